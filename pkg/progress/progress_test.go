package progress_test

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/progress"
)

// chanWriter hands every Write to the test, so the test knows exactly when a
// tick has been drawn without sleeping.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type harness struct {
	r        *progress.Reporter
	out      chanWriter
	ticks    chan time.Time
	clock    *fakeClock
	t0       time.Time
	interval time.Duration
	stopped  chan struct{}
}

func newHarness(t *testing.T, enabled bool) *harness {
	t.Helper()
	h := &harness{
		out:     make(chanWriter, 16),
		ticks:   make(chan time.Time),
		t0:      time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC),
		stopped: make(chan struct{}),
	}
	h.clock = &fakeClock{t: h.t0}
	h.r = progress.New(h.out, enabled)
	h.r.Now = h.clock.Now
	h.r.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
		h.interval = d
		return h.ticks, func() { close(h.stopped) }
	}
	return h
}

// tick advances the clock to t0+d, delivers a tick and returns what was drawn.
func (h *harness) tick(t *testing.T, d time.Duration) string {
	t.Helper()
	now := h.t0.Add(d)
	h.clock.Set(now)
	h.ticks <- now
	return <-h.out
}

func TestReporterDrawsOnEveryTick(t *testing.T) {
	h := newHarness(t, true)
	h.r.Start()
	if h.interval != progress.DefaultInterval {
		t.Errorf("ticker interval = %v, want %v", h.interval, progress.DefaultInterval)
	}
	select {
	case s := <-h.out:
		t.Fatalf("drew %q before the first tick", s)
	default:
	}

	h.r.Add(100, 100*1024)
	got := h.tick(t, time.Second)
	first := "100 blocks  100.0 KiB  in 1s  100.0 blocks/s  100.0 KiB/s"
	if got != "\r"+first {
		t.Errorf("first line = %q, want %q", got, "\r"+first)
	}

	// Ten seconds in, the rates are shorter: the rest of the old line is blanked.
	got = h.tick(t, 10*time.Second)
	second := "100 blocks  100.0 KiB  in 10s  10.0 blocks/s  10.0 KiB/s"
	want := "\r" + second + strings.Repeat(" ", len(first)-len(second))
	if len(first) <= len(second) {
		t.Fatalf("test premise: %q should be longer than %q", first, second)
	}
	if got != want {
		t.Errorf("second line = %q, want %q", got, want)
	}

	h.r.Add(1, 1024)
	h.clock.Set(h.t0.Add(11 * time.Second))
	h.r.Stop()
	final := <-h.out
	if !strings.HasPrefix(final, "\r101 blocks  101.0 KiB  in 11s") || !strings.HasSuffix(final, "\n") {
		t.Errorf("final line = %q, want the totals ending with a newline", final)
	}
	select {
	case <-h.stopped:
	default:
		t.Error("Stop did not stop the ticker")
	}
	h.r.Stop() // a second Stop is harmless and draws nothing
	select {
	case s := <-h.out:
		t.Errorf("second Stop drew %q", s)
	default:
	}
}

func TestReporterCountsConcurrentAdds(t *testing.T) {
	h := newHarness(t, true)
	h.r.Start()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				h.r.Add(1, 10)
			}
		}()
	}
	wg.Wait()
	h.clock.Set(h.t0.Add(4 * time.Second))
	h.r.Stop()
	want := "\r" + progress.Line(8000, 80000, 4*time.Second) + "\n"
	if got := <-h.out; got != want {
		t.Errorf("final line = %q, want %q", got, want)
	}
}

func TestDisabledReporterWritesNothing(t *testing.T) {
	h := newHarness(t, false)
	h.r.NewTicker = func(time.Duration) (<-chan time.Time, func()) {
		t.Error("a disabled reporter started a ticker")
		return nil, func() {}
	}
	h.r.Start()
	h.r.Add(5, 500)
	h.r.Stop()
	select {
	case s := <-h.out:
		t.Errorf("disabled reporter wrote %q", s)
	default:
	}

	// A nil writer disables the reporter too.
	r := progress.New(nil, true)
	r.Start()
	r.Add(1, 1)
	r.Stop()
}

func TestNilReporterIsANoOp(t *testing.T) {
	var r *progress.Reporter
	r.Start()
	r.Add(1, 1)
	r.Stop()
}

func TestStopWithoutStart(t *testing.T) {
	h := newHarness(t, true)
	h.r.Add(1, 1)
	h.r.Stop()
	select {
	case s := <-h.out:
		t.Errorf("Stop without Start wrote %q", s)
	default:
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		name    string
		blocks  int64
		bytes   int64
		elapsed time.Duration
		want    string
	}{
		{"at start no rate", 0, 0, 0, "0 blocks  0 B  in 0s"},
		{"one block", 1, 1024, 2 * time.Second, "1 block  1.0 KiB  in 2s  0.5 blocks/s  512 B/s"},
		{"sub-second elapsed is truncated", 3, 3000, 500 * time.Millisecond, "3 blocks  2.9 KiB  in 0s  6.0 blocks/s  5.9 KiB/s"},
		{"minutes", 1234, 56 << 20, 62 * time.Second, "1234 blocks  56.0 MiB  in 1m2s  19.9 blocks/s  924.9 KiB/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := progress.Line(tc.blocks, tc.bytes, tc.elapsed); got != tc.want {
				t.Errorf("Line = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 blocks", 1: "1 block", 2: "2 blocks", 1000: "1000 blocks"} {
		if got := progress.Count(n, "block"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := progress.Count(int64(1), "file"); got != "1 file" {
		t.Errorf("Count(int64 1) = %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3 << 30, "3.0 GiB"},
		{1 << 62, "4.0 EiB"},
	}
	for _, tc := range tests {
		if got := progress.HumanBytes(tc.n); got != tc.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestWrapClearsTheLineBeforeOtherOutput(t *testing.T) {
	h := newHarness(t, true)
	log := h.r.Wrap(h.out)
	h.r.Start()
	h.r.Add(7, 7*1024)
	line := h.tick(t, time.Second)

	if _, err := io.WriteString(log, "12:00:01 WRN retrying\n"); err != nil {
		t.Fatal(err)
	}
	blank := <-h.out
	if want := "\r" + strings.Repeat(" ", len(line)-1) + "\r"; blank != want {
		t.Errorf("before the log line: %q, want the status line blanked %q", blank, want)
	}
	if got := <-h.out; got != "12:00:01 WRN retrying\n" {
		t.Errorf("log line = %q", got)
	}
	// The next tick draws a fresh line: nothing left to pad.
	if got, want := h.tick(t, 2*time.Second), "\r"+progress.Line(7, 7*1024, 2*time.Second); got != want {
		t.Errorf("redraw = %q, want %q", got, want)
	}

	h.clock.Set(h.t0.Add(3 * time.Second))
	h.r.Stop()
	<-h.out // final line, ends with a newline
	// After Stop the line is finished: output passes through untouched.
	if _, err := io.WriteString(log, "done\n"); err != nil {
		t.Fatal(err)
	}
	if got := <-h.out; got != "done\n" {
		t.Errorf("after Stop: %q, want the output alone", got)
	}
}

func TestWrapDisabledReturnsTheWriter(t *testing.T) {
	var buf strings.Builder
	if w := progress.New(&buf, false).Wrap(&buf); w != &buf {
		t.Errorf("disabled Wrap = %T, want the writer itself", w)
	}
	var r *progress.Reporter
	if w := r.Wrap(&buf); w != &buf {
		t.Errorf("nil Wrap = %T, want the writer itself", w)
	}
}
