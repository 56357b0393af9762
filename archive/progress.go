package archive

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress reports rendered tiles: on a terminal one line redrawn in place
// a few times a second, otherwise a plain line every few seconds, and a
// final line either way.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	start    time.Time

	mu          sync.Mutex
	done, empty int
	stopped     chan struct{}
	finished    sync.WaitGroup
}

func newProgress(w io.Writer, terminal bool, total int) *progress {
	p := &progress{w: w, terminal: terminal, total: total, start: time.Now(), stopped: make(chan struct{})}
	if w == nil {
		return p
	}
	every := 5 * time.Second
	if terminal {
		every = 200 * time.Millisecond
	}
	p.finished.Add(1)
	go func() {
		defer p.finished.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.print(false)
			case <-p.stopped:
				p.print(true)
				return
			}
		}
	}()
	return p
}

func (p *progress) add(empty bool) {
	p.mu.Lock()
	p.done++
	if empty {
		p.empty++
	}
	p.mu.Unlock()
}

func (p *progress) stop() {
	close(p.stopped)
	p.finished.Wait()
}

// print writes the line: tiles done of total, rate, ETA.
func (p *progress) print(final bool) {
	p.mu.Lock()
	done, empty := p.done, p.empty
	p.mu.Unlock()
	elapsed := time.Since(p.start)
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	line := fmt.Sprintf("tiles %d/%d (%.1f %%), %d empty, %.0f tiles/s", done, p.total, pct, empty, rate)
	if final {
		line += ", took " + elapsed.Round(100*time.Millisecond).String()
	} else {
		eta := "?"
		if rate > 0 {
			eta = (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String()
		}
		line += ", ETA " + eta
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
