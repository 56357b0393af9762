package respond

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lastmile/lastmile"
)

// TestErrorTimeoutsAndGoneClients: a request out of time is 503 with
// Retry-After whatever form the cancellation takes; a request whose client
// went away gets nothing and is recorded as 499; neither is a 500.
func TestErrorTimeoutsAndGoneClients(t *testing.T) {
	queryCanceled := &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"}
	tests := []struct {
		name    string
		err     error
		ctx     string // "live", "deadline" or "canceled": the request context's state
		status  int    // 0: nothing written
		outcome Outcome
	}{
		{"deadline", fmt.Errorf("stats.Rank(grid): %w", context.DeadlineExceeded), "deadline", 503, Outcome{503, ReasonTimeout}},
		{"canceled inside a live request", fmt.Errorf("stats.Rank(grid): %w", context.Canceled), "live", 503, Outcome{503, ReasonTimeout}},
		{"canceled by the request's deadline", fmt.Errorf("stats.Progress: %w", context.Canceled), "deadline", 503, Outcome{503, ReasonTimeout}},
		{"query canceled (statement_timeout)", queryCanceled, "live", 503, Outcome{503, ReasonTimeout}},
		{"client gone", fmt.Errorf("stats.Rank(grid): %w", context.Canceled), "canceled", 0, Outcome{StatusClientGone, ReasonClientGone}},
		{"client gone, query canceled", queryCanceled, "canceled", 0, Outcome{StatusClientGone, ReasonClientGone}},
		{"client gone, other error", errors.New("boom"), "canceled", 500, Outcome{500, ReasonInternal}},
		{"database down", &pgconn.PgError{Code: "57P01"}, "live", 503, Outcome{503, ReasonUnavailable}},
		{"internal", errors.New("boom"), "live", 500, Outcome{500, ReasonInternal}},
		{"invalid", lastmile.Invalid("bad"), "live", 400, Outcome{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, outcome := WithOutcome(context.Background())
			switch tc.ctx {
			case "deadline":
				c, cancel := context.WithTimeout(ctx, 0)
				defer cancel()
				ctx = c
			case "canceled":
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			r := httptest.NewRequest("GET", "/api/sites/rank", nil).WithContext(ctx)
			w := httptest.NewRecorder()
			Error(w, r, tc.err)
			if tc.status == 0 {
				if w.Body.Len() != 0 || w.Code != 200 || len(w.Header()) != 0 {
					t.Errorf("a gone client was written to: %d %q", w.Code, w.Body.String())
				}
			} else if w.Code != tc.status {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.status, w.Body.String())
			}
			if tc.status == 503 && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"code":"unavailable"`)) {
				t.Errorf("503 without Retry-After or code: %v %s", w.Header(), w.Body.String())
			}
			if tc.status == 503 && tc.outcome.Reason == ReasonTimeout && !strings.Contains(w.Body.String(), "time limit") {
				t.Errorf("a timeout's message does not say so: %s", w.Body.String())
			}
			if *outcome != tc.outcome {
				t.Errorf("outcome %+v, want %+v", *outcome, tc.outcome)
			}
		})
	}
}
