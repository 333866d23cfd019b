package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// raiseNoFile raises this process's soft RLIMIT_NOFILE to the hard limit and
// returns both.
func raiseNoFile() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("reading the file-descriptor limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, lim.Max, fmt.Errorf("raising the file-descriptor limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, lim.Max, nil
}

// child is a process the harness started: a carrier, a proxy, a hub.
type child struct {
	name   string
	cmd    *exec.Cmd
	tail   *tailBuffer
	exited chan struct{}
	err    error // set before exited is closed
}

// tailBuffer keeps the last bytes written to it, for diagnostics.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// startChild runs path with args and waits until ready accepts one of its output
// lines (stdout or stderr), returning what ready extracted. The child is killed
// if the harness dies (Pdeathsig).
func startChild(ctx context.Context, name, path string, args, env []string, ready func(line string) bool) (*child, error) {
	c := &child{name: name, tail: &tailBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	// Pdeathsig fires when the thread that started the child exits; keep it alive.
	runtime.LockOSThread()
	err = c.cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	found := make(chan struct{})
	var once sync.Once
	var drained sync.WaitGroup
	scan := func(r io.Reader) {
		defer drained.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.tail.Write([]byte(line + "\n"))
			select {
			case <-found:
			default:
				if ready(line) {
					once.Do(func() { close(found) })
				}
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}
	drained.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() {
		drained.Wait()
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	select {
	case <-found:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, c.err, c.tail.String())
	case <-timeout.C:
		c.stop()
		return nil, fmt.Errorf("%s was not ready after 2 minutes:\n%s", name, c.tail.String())
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to end (SIGTERM), then kills it after 30 seconds.
func (c *child) stop() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-c.exited:
		var ee *exec.ExitError
		if c.err != nil && !(errors.As(c.err, &ee) && !ee.Exited()) {
			return fmt.Errorf("%s: %w", c.name, c.err)
		}
		return nil
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within 30s of SIGTERM and was killed", c.name)
	}
}

// cpuTime returns the user plus system CPU time a process used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statusKB returns a "kB" line of /proc/PID/status, such as VmHWM.
func statusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

// resetPeakRSS starts VmHWM afresh from the current RSS (clear_refs 5), so a
// phase's peak is its own; it reports whether the kernel allowed it.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// childPIDs returns the processes whose parent is pid.
func childPIDs(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	if len(tasks) > 0 {
		return out
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		n, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// openFilesLimit returns the soft "Max open files" of a process.
func openFilesLimit(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			if f := strings.Fields(line); len(f) >= 5 {
				return f[3]
			}
		}
	}
	return "?"
}

// usage is what a process consumed during a phase.
type usage struct {
	// CPUSeconds is user plus system time.
	CPUSeconds float64 `json:"cpu_s"`
	// PeakRSSMB is VmHWM: the phase's peak when the kernel let the harness reset
	// it, else the process's peak so far.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakIsLifetime says VmHWM could not be reset at the phase's start.
	PeakIsLifetime bool `json:"peak_is_lifetime,omitempty"`
	// WindowCPUSeconds is user plus system time over the measured window
	// alone (ramp-up and warm-up left out), the part per-request CPU is
	// computed from; zero when the phase had no window mark.
	WindowCPUSeconds float64 `json:"window_cpu_s,omitempty"`
}

// meter measures a set of processes over a phase, and over its measured
// window when markWindow is called.
type meter struct {
	pids  map[string]int
	cpu0  map[string]time.Duration
	reset map[string]bool

	mu     sync.Mutex
	window map[string]time.Duration // CPU time at the window's start
	stopCh chan struct{}
}

func startMeter(pids map[string]int) *meter {
	m := &meter{pids: pids, cpu0: map[string]time.Duration{}, reset: map[string]bool{}, stopCh: make(chan struct{})}
	for name, pid := range pids {
		if pid == 0 {
			continue
		}
		m.reset[name] = resetPeakRSS(pid)
		m.cpu0[name], _ = cpuTime(pid)
	}
	return m
}

// markWindow takes each process's CPU time once after has passed: the start
// of the phase's measured window.
func (m *meter) markWindow(after time.Duration) {
	go func() {
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-t.C:
		case <-m.stopCh:
			return
		}
		at := map[string]time.Duration{}
		for name, pid := range m.pids {
			if pid != 0 {
				at[name], _ = cpuTime(pid)
			}
		}
		m.mu.Lock()
		m.window = at
		m.mu.Unlock()
	}()
}

func (m *meter) stop() map[string]usage {
	close(m.stopCh)
	m.mu.Lock()
	window := m.window
	m.mu.Unlock()
	out := map[string]usage{}
	for name, pid := range m.pids {
		if pid == 0 {
			continue
		}
		cpu, err := cpuTime(pid)
		if err != nil {
			continue
		}
		hwm, _ := statusKB(pid, "VmHWM")
		u := usage{CPUSeconds: (cpu - m.cpu0[name]).Seconds(), PeakRSSMB: float64(hwm) / 1024, PeakIsLifetime: !m.reset[name]}
		if w, ok := window[name]; ok {
			u.WindowCPUSeconds = (cpu - w).Seconds()
		}
		out[name] = u
	}
	return out
}
