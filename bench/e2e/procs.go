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

// procStat returns the fields of /proc/PID/stat after the command name: f[0]
// is field 3 (state), f[1] field 4 (ppid), f[11] to f[14] fields 14 to 17
// (utime, stime, cutime, cstime).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	return f, nil
}

// ticks sums fields of a procStat answer, in clock ticks, as a duration.
func ticks(pid int, f []string, idx ...int) (time.Duration, error) {
	var sum int64
	for _, i := range idx {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += n
	}
	return time.Duration(sum) * time.Second / clockTicks, nil
}

// cpuTime returns the user plus system CPU time a process used so far.
func cpuTime(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return ticks(pid, f, 11, 12)
}

// treeCPUTime returns the CPU time of a process and its children: its own user
// and system time, that of its children alive now, and that of the children it
// has reaped (cutime and cstime), so processes that came and went still count.
// Grandchildren alive now are not counted: it suits a server such as Postgres,
// whose postmaster is the parent of every process of the server.
func treeCPUTime(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	total, err := ticks(pid, f, 11, 12, 13, 14)
	if err != nil {
		return 0, err
	}
	for _, kid := range childPIDs(pid) {
		if t, err := cpuTime(kid); err == nil { // a child that just exited is in cutime once reaped
			total += t
		}
	}
	return total, nil
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
		if f, err := procStat(n); err == nil && f[1] == strconv.Itoa(pid) {
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

// usage is what a process, or a group of processes, consumed during a phase.
type usage struct {
	// CPUSeconds is user plus system time.
	CPUSeconds float64 `json:"cpu_s"`
	// PeakRSSMB is VmHWM: the phase's peak when the kernel let the harness reset
	// it, else the process's peak so far. Zero for a group.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakIsLifetime says VmHWM could not be reset at the phase's start.
	PeakIsLifetime bool `json:"peak_is_lifetime,omitempty"`
	// WindowCPUSeconds is user plus system time over the measured window
	// alone (ramp-up and warm-up left out), the part per-request CPU is
	// computed from; zero when the phase had no window mark.
	WindowCPUSeconds float64 `json:"window_cpu_s,omitempty"`
	// Group says the figures are a group's (such as the Postgres server's
	// processes), which has CPU time but no one peak RSS.
	Group bool `json:"group,omitempty"`
}

// meter measures a set of processes, and groups of processes, over a phase,
// and over its measured window when markWindow is called.
type meter struct {
	pids   map[string]int
	groups map[string]func() (time.Duration, error)
	cpu0   map[string]time.Duration
	reset  map[string]bool

	mu     sync.Mutex
	window map[string]time.Duration // CPU time at the window's start
	stopCh chan struct{}
}

// startMeter starts measuring the processes in pids (a pid of 0 is left out)
// and the groups, each a function returning the group's CPU time so far, by
// role.
func startMeter(pids map[string]int, groups map[string]func() (time.Duration, error)) *meter {
	m := &meter{pids: pids, groups: groups, cpu0: map[string]time.Duration{}, reset: map[string]bool{}, stopCh: make(chan struct{})}
	for name, pid := range pids {
		if pid != 0 {
			m.reset[name] = resetPeakRSS(pid)
		}
	}
	m.cpu0 = m.cpuTimes()
	return m
}

// cpuTimes returns the CPU time so far of every process and group that
// answers, by role.
func (m *meter) cpuTimes() map[string]time.Duration {
	at := map[string]time.Duration{}
	for name, pid := range m.pids {
		if pid == 0 {
			continue
		}
		if t, err := cpuTime(pid); err == nil {
			at[name] = t
		}
	}
	for name, cpu := range m.groups {
		if t, err := cpu(); err == nil {
			at[name] = t
		}
	}
	return at
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
		at := m.cpuTimes()
		m.mu.Lock()
		m.window = at
		m.mu.Unlock()
	}()
}

// stop ends the phase and returns what each process and group used.
func (m *meter) stop() map[string]usage {
	close(m.stopCh)
	m.mu.Lock()
	window := m.window
	m.mu.Unlock()
	out := map[string]usage{}
	for name, cpu := range m.cpuTimes() {
		cpu0, ok := m.cpu0[name]
		if !ok {
			continue
		}
		u := usage{CPUSeconds: (cpu - cpu0).Seconds(), Group: m.groups[name] != nil}
		if pid := m.pids[name]; pid != 0 && !u.Group {
			hwm, _ := statusKB(pid, "VmHWM")
			u.PeakRSSMB, u.PeakIsLifetime = float64(hwm)/1024, !m.reset[name]
		}
		if w, ok := window[name]; ok {
			u.WindowCPUSeconds = (cpu - w).Seconds()
		}
		out[name] = u
	}
	return out
}
