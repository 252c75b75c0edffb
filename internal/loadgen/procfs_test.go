package loadgen

import (
	"errors"
	"os"
	"testing"
	"time"
)

const statLine = "4242 (room gate) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 123456789 2500 18446744073709551615\n"

func TestParseProcStat(t *testing.T) {
	d, err := ParseProcStat([]byte(statLine))
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("cpu = %v %v, want 3.25s", d, err)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u s"} {
		if _, err := ParseProcStat([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	n, err := ParseVmRSS([]byte("Name:\troomgate\nVmPeak:\t 1 kB\nVmRSS:\t   20480 kB\nThreads: 9\n"))
	if err != nil || n != 20480*1024 {
		t.Errorf("rss = %d %v", n, err)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB"} {
		if _, err := ParseVmRSS([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestProcSelf(t *testing.T) {
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if n, err := ProcRSS(os.Getpid()); err != nil || n == 0 {
		t.Errorf("rss %d %v", n, err)
	}
	if load, cpus, err := loadAverage(); err != nil || load < 0 || cpus < 1 {
		t.Errorf("load average %v on %d CPUs: %v", load, cpus, err)
	}
	if _, err := ProcCPU(-1); err == nil {
		t.Error("no error for a missing process")
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("VmRSS:\t 20480 kB\n"))
	f.Add([]byte("1 () S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseProcStat(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
		_, _ = ParseVmRSS(b)
	})
}
