package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Reading a process's CPU time and resident memory from Linux /proc. This is
// how the tool measures the server without any help from it.

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ). The kernel
// exports 100 on every architecture Go supports on Linux.
const userHZ = 100

// ParseProcStat returns utime+stime from the contents of /proc/<pid>/stat.
func ParseProcStat(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses: the fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing stat: no command name: %w", ErrProcFormat)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("parsing stat: %d fields: %w", len(fields)+2, ErrProcFormat)
	}
	ut, err1 := strconv.ParseUint(string(fields[11]), 10, 63)
	st, err2 := strconv.ParseUint(string(fields[12]), 10, 63)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing stat: utime %q stime %q: %w", fields[11], fields[12], ErrProcFormat)
	}
	ticks := ut + st
	if ticks > uint64(1<<62)/uint64(time.Second/userHZ) {
		return 0, fmt.Errorf("parsing stat: %d ticks out of range: %w", ticks, ErrProcFormat)
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// ParseVmRSS returns the VmRSS line of /proc/<pid>/status in bytes.
func ParseVmRSS(b []byte) (uint64, error) {
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("parsing VmRSS %q: %w", rest, ErrProcFormat)
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 53)
		if err != nil {
			return 0, fmt.Errorf("parsing VmRSS %q: %w", f[0], ErrProcFormat)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("parsing status: no VmRSS line: %w", ErrProcFormat)
}

// ProcCPU returns the CPU time (user+system) the process pid has used.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of process %d: %w", pid, err)
	}
	d, err := ParseProcStat(b)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return d, nil
}

// ProcRSS returns the resident memory of process pid in bytes.
func ProcRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	n, err := ParseVmRSS(b)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return n, nil
}

// loadAverage returns the one-minute load average of the machine and its
// number of online CPUs (not the ones this process may use).
func loadAverage() (float64, int, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, 0, fmt.Errorf("reading load average: %w", err)
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, 0, fmt.Errorf("parsing load average: %w", ErrProcFormat)
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parsing load average %q: %w", f[0], ErrProcFormat)
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("reading CPU count: %w", err)
	}
	cpus := 0
	for line := range bytes.Lines(stat) {
		if len(line) > 3 && string(line[:3]) == "cpu" && line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	return v, max(cpus, 1), nil
}
