package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunExitCodes(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want int
	}{
		"unknown flag":       {[]string{"-nope"}, 2},
		"bad server address": {[]string{"-server", "localhost"}, 2},
		"missing binary":     {[]string{"-spawn", "/nonexistent/roomgate", "-legs", "1"}, 1},
	} {
		if got := run(c.args); got != c.want {
			t.Errorf("%s: exit %d, want %d", name, got, c.want)
		}
	}
}

func TestRaiseFileLimit(t *testing.T) {
	if err := raiseFileLimit(64); err != nil {
		t.Errorf("a limit of 64 descriptors: %v", err)
	}
}
