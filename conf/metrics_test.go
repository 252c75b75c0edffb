package conf_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

func TestMetrics(t *testing.T) {
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewPedanticRegistry()
	svc := conf.NewService(st, nil, conf.WithRegisterer(reg), conf.WithPasswordIterations(1000))
	defer svc.Close(ctx)
	if _, err := svc.CreateConference(ctx, conf.Conference{ID: "1", Name: "x", MaxParticipants: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Join(ctx, conf.JoinRequest{ConferenceID: "1", Leg: &fakeLeg{}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = svc.Join(ctx, conf.JoinRequest{ConferenceID: "1", Leg: &fakeLeg{}}) // full
	_, _ = svc.Join(ctx, conf.JoinRequest{ConferenceID: "2", Leg: &fakeLeg{}}) // not found
	if _, err := svc.EnsureAdmin(ctx, "pw-pw-pw"); err != nil {
		t.Fatal(err)
	}
	_, _, _ = svc.IssueToken(ctx, "admin", "wrong")
	if _, _, err := svc.IssueToken(ctx, "admin", "pw-pw-pw"); err != nil {
		t.Fatal(err)
	}
	const joinsAndLive = `
# HELP roomgate_conf_joins_total Requests to join a conference, by result: ok, not_found, locked, full, unauthorized, removed, invalid, error.
# TYPE roomgate_conf_joins_total counter
roomgate_conf_joins_total{result="error"} 0
roomgate_conf_joins_total{result="full"} 1
roomgate_conf_joins_total{result="invalid"} 0
roomgate_conf_joins_total{result="locked"} 0
roomgate_conf_joins_total{result="not_found"} 1
roomgate_conf_joins_total{result="ok"} 1
roomgate_conf_joins_total{result="removed"} 0
roomgate_conf_joins_total{result="unauthorized"} 0
# HELP roomgate_conf_participants Live participants in all conferences.
# TYPE roomgate_conf_participants gauge
roomgate_conf_participants 1
# HELP roomgate_conf_logins_total API token requests, by result: ok, refused, error.
# TYPE roomgate_conf_logins_total counter
roomgate_conf_logins_total{result="error"} 0
roomgate_conf_logins_total{result="ok"} 1
roomgate_conf_logins_total{result="refused"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(joinsAndLive),
		"roomgate_conf_joins_total", "roomgate_conf_participants", "roomgate_conf_logins_total"); err != nil {
		t.Fatal(err)
	}
	svc.Leave(p, nil)
	if err := svc.FlushCallRecords(ctx); err != nil {
		t.Fatal(err)
	}
	const after = `
# HELP roomgate_conf_participants Live participants in all conferences.
# TYPE roomgate_conf_participants gauge
roomgate_conf_participants 0
# HELP roomgate_conf_leaves_total Participants that left a conference, including those ended by its deletion.
# TYPE roomgate_conf_leaves_total counter
roomgate_conf_leaves_total 1
# HELP roomgate_conf_call_records_written_total Call records written to the store.
# TYPE roomgate_conf_call_records_written_total counter
roomgate_conf_call_records_written_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after), "roomgate_conf_participants",
		"roomgate_conf_leaves_total", "roomgate_conf_call_records_written_total"); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(""), "no_such_metric"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
