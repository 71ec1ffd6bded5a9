// Package progress prints a single, self-overwriting status line (blocks and
// bytes done, and the rate) for people who run backup-creator by hand on a
// terminal.
//
// cmd creates the Reporter with enabled set only when stderr is a terminal and
// --json is off, so nothing of it reaches cron mail or log shippers. A
// disabled (or nil) Reporter accepts every call and writes nothing.
//
//	p := progress.New(os.Stderr, isTTY && !jsonOut)
//	logOut := p.Wrap(os.Stderr) // console logs blank the line before printing
//	p.Start()
//	... p.Add(1, n) from any goroutine for each block stored ...
//	p.Stop()
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often the line is redrawn at most.
const DefaultInterval = 250 * time.Millisecond

// Reporter counts blocks and bytes and redraws one line on each tick. Add is
// safe for concurrent use; Start and Stop are called once each, in that order,
// by one goroutine.
type Reporter struct {
	w       io.Writer
	enabled bool

	// Now is the clock (time.Now when nil). Set it before Start.
	Now func() time.Time
	// NewTicker returns the redraw ticks and a function that stops them
	// (a time.Ticker of DefaultInterval when nil). Set it before Start; tests
	// inject a channel they drive themselves.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())

	blocks atomic.Int64
	bytes  atomic.Int64

	start    time.Time
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}

	mu      sync.Mutex // serialises writes to w (draws and Wrap's writers)
	lastLen int        // length of the line on screen, 0 when none
}

// New returns a Reporter writing to w (stderr). When enabled is false the
// Reporter only counts and never writes.
func New(w io.Writer, enabled bool) *Reporter {
	return &Reporter{w: w, enabled: enabled && w != nil}
}

// Add records blocks and bytes done. It may be called from many goroutines,
// before, during or after the Reporter runs.
func (r *Reporter) Add(blocks int, bytes int64) {
	if r == nil {
		return
	}
	r.blocks.Add(int64(blocks))
	r.bytes.Add(bytes)
}

// Start begins redrawing the line on every tick. It does nothing when the
// Reporter is disabled or already started.
func (r *Reporter) Start() {
	if r == nil || !r.enabled || r.quit != nil {
		return
	}
	r.start = r.now()
	ticks, stopTicks := r.ticker()
	r.quit = make(chan struct{})
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		defer stopTicks()
		for {
			select {
			case <-r.quit:
				return
			case t := <-ticks:
				r.draw(t, false)
			}
		}
	}()
}

// Stop stops redrawing, draws the final totals and ends the line, so that what
// is written next starts on a line of its own. It is safe to call more than
// once, and without Start.
func (r *Reporter) Stop() {
	if r == nil || r.quit == nil {
		return
	}
	r.stopOnce.Do(func() {
		close(r.quit)
		<-r.done
		r.draw(r.now(), true)
	})
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) ticker() (<-chan time.Time, func()) {
	if r.NewTicker != nil {
		return r.NewTicker(DefaultInterval)
	}
	t := time.NewTicker(DefaultInterval)
	return t.C, t.Stop
}

// draw writes the status line for time now.
func (r *Reporter) draw(now time.Time, final bool) {
	line := Line(r.blocks.Load(), r.bytes.Load(), now.Sub(r.start))
	r.mu.Lock()
	defer r.mu.Unlock()
	pad := ""
	if n := r.lastLen - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	r.lastLen = len(line)
	end := ""
	if final {
		end = "\n"
		r.lastLen = 0
	}
	// A terminal write error is not worth failing a backup for.
	_, _ = io.WriteString(r.w, "\r"+line+pad+end)
}

// Wrap returns a writer for other output to the same terminal, such as the
// console logger: each write first blanks the status line, so that a log
// line never runs into it, and the next tick draws the status line again
// below. A disabled or nil Reporter returns w itself.
func (r *Reporter) Wrap(w io.Writer) io.Writer {
	if r == nil || !r.enabled {
		return w
	}
	return &wrapped{r: r, w: w}
}

type wrapped struct {
	r *Reporter
	w io.Writer
}

func (x *wrapped) Write(p []byte) (int, error) {
	x.r.mu.Lock()
	defer x.r.mu.Unlock()
	if n := x.r.lastLen; n > 0 {
		_, _ = io.WriteString(x.r.w, "\r"+strings.Repeat(" ", n)+"\r")
		x.r.lastLen = 0
	}
	return x.w.Write(p)
}

// Line formats one status line: blocks, bytes, elapsed time and rates, e.g.
// "1234 blocks  56.7 MiB  in 1m02s  19.9 blocks/s  935.5 KiB/s".
func Line(blocks, bytes int64, elapsed time.Duration) string {
	s := fmt.Sprintf("%s  %s  in %s", Count(blocks, "block"), HumanBytes(bytes), elapsed.Truncate(time.Second))
	if secs := elapsed.Seconds(); secs > 0 {
		s += fmt.Sprintf("  %.1f blocks/s  %s/s", float64(blocks)/secs, HumanBytes(int64(float64(bytes)/secs)))
	}
	return s
}

// Count formats n with word in the singular or plural for people: "1 block",
// "0 blocks", "2 blocks". Words are regular English nouns (plural: + "s").
func Count[N ~int | ~int64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// HumanBytes formats n bytes with binary units: "512 B", "1.5 KiB", "3.0 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
