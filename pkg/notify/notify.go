// Package notify tells people about a run that finished unwatched: a desktop
// notification through notify-send when a session bus is reachable, and an
// HTTP POST of the run's JSON record to a webhook. Both are best effort: a
// notification that cannot be delivered is reported to the caller as a
// warning and never changes the run's outcome, and a dead webhook never
// costs more than its configured time budget, retries included.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Defaults for the webhook when the config does not say.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultWebhookRetries = 2
	// firstBackoff is the pause before the first retry; it doubles after
	// each attempt and is always cut to what is left of the budget.
	firstBackoff = 250 * time.Millisecond
	// desktopTimeout bounds notify-send, which can block on a wedged bus.
	desktopTimeout = 5 * time.Second
)

// Config is the notification part of a section of the config file.
type Config struct {
	Desktop        bool
	WebhookURL     string
	WebhookTimeout time.Duration // total budget, all attempts and pauses included
	WebhookRetries int           // retries after the first attempt
}

// FromConfig reads notify.desktop, notify.webhookUrl, notify.webhookTimeout
// and notify.webhookRetries from section. Desktop notifications default to
// on: they are only sent when a session bus exists, i.e. to a person.
func FromConfig(f *config.File, section string) (Config, error) {
	return FromSections(f, section)
}

// FromSections reads the notify.* keys from each section in turn, a later
// section's keys overriding an earlier one's. chezmoi-sync reads
// rebuildSmart then chezmoiSync: one webhook configured for the rebuild
// also hears about parked dotfiles conflicts, unless the sync sets its own.
func FromSections(f *config.File, sections ...string) (Config, error) {
	c := Config{Desktop: true, WebhookTimeout: DefaultWebhookTimeout, WebhookRetries: DefaultWebhookRetries}
	for _, section := range sections {
		if err := c.overlay(f, section); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *Config) overlay(f *config.File, section string) error {
	if _, err := f.Decode(section, "notify.desktop", &c.Desktop); err != nil {
		return err
	}
	if _, err := f.Decode(section, "notify.webhookUrl", &c.WebhookURL); err != nil {
		return err
	}
	if c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "http://") && !strings.HasPrefix(c.WebhookURL, "https://") {
		return exitcode.UsageError(fmt.Errorf("config %s.notify.webhookUrl: %q is not an http(s) URL", section, c.WebhookURL))
	}
	var timeout string
	if ok, err := f.Decode(section, "notify.webhookTimeout", &timeout); err != nil {
		return err
	} else if ok {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return exitcode.UsageError(fmt.Errorf("config %s.notify.webhookTimeout: %q is not a positive duration (e.g. \"10s\")", section, timeout))
		}
		c.WebhookTimeout = d
	}
	if ok, err := f.Decode(section, "notify.webhookRetries", &c.WebhookRetries); err != nil {
		return err
	} else if ok && (c.WebhookRetries < 0 || c.WebhookRetries > 10) {
		return exitcode.UsageError(fmt.Errorf("config %s.notify.webhookRetries: %d is not between 0 and 10", section, c.WebhookRetries))
	}
	return nil
}

// Urgency of a desktop notification (notify-send --urgency).
type Urgency string

// Urgencies notify-send understands.
const (
	Low      Urgency = "low"
	Normal   Urgency = "normal"
	Critical Urgency = "critical"
)

// Event is one thing worth telling.
type Event struct {
	Tool    string // rebuild-smart, chezmoi-sync
	Host    string
	Status  string // the run's outcome word: success, failed, conflicts-preserved, ...
	Summary string // one line: "rebuild-smart: alpha switched to generation 42"
	Body    string // details and the next step, a few lines at most
	Urgency Urgency
	Time    time.Time
	// Record is the run's JSON record (syncstate.Record, the rebuild
	// summary); the webhook sends it under "record".
	Record any
}

// Payload is the JSON document the webhook receives. Documented in
// docs/fleet.md; add fields, never rename them.
type Payload struct {
	Version int       `json:"version"` // 1
	Tool    string    `json:"tool"`
	Host    string    `json:"host"`
	Status  string    `json:"status"`
	Summary string    `json:"summary"`
	Body    string    `json:"body"` // always present ("" only when there is nothing to add)
	Time    time.Time `json:"time"`
	Record  any       `json:"record,omitempty"`
}

// Notifier sends events. The zero value sends nothing; set Config and Runner.
type Notifier struct {
	Config
	Runner runner.Runner // runs notify-send (dry-run aware: it Mutates)
	Env    []string      // explicit environment: PATH, DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR
	Client *http.Client  // nil: a default client; the budget comes from the context, not Client.Timeout
	// Sleep waits between webhook attempts; tests may replace it. It must
	// return early with ctx's error when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// DryRun skips the webhook (notify-send is already skipped by a dry-run
	// Runner) and reports what would have been sent.
	DryRun bool
	// UserAgent sent with the webhook; "" uses "nixdots".
	UserAgent string
}

// Outcome is what happened to one channel.
type Outcome struct {
	Channel  string // desktop, webhook
	Sent     bool
	Skipped  string // why nothing was attempted ("" when attempted)
	Attempts int    // webhook attempts made
	Status   int    // last HTTP status (webhook), 0 when none
	Err      error  // last error when attempted and not sent
	Duration time.Duration
}

// String is a one-line account for logs and warnings.
func (o Outcome) String() string {
	switch {
	case o.Sent && o.Attempts > 1:
		return fmt.Sprintf("%s: sent after %d attempts", o.Channel, o.Attempts)
	case o.Sent:
		return o.Channel + ": sent"
	case o.Skipped != "":
		return fmt.Sprintf("%s: skipped (%s)", o.Channel, o.Skipped)
	case o.Attempts > 0:
		return fmt.Sprintf("%s: not delivered after %d attempt(s) in %s: %v", o.Channel, o.Attempts, o.Duration.Round(time.Millisecond), o.Err)
	default:
		return fmt.Sprintf("%s: not delivered: %v", o.Channel, o.Err)
	}
}

// Send delivers ev on every configured channel and reports each. It never
// returns an error: notifications are best effort. The desktop notification
// and the webhook run one after the other; each is bounded on its own.
func (n *Notifier) Send(ctx context.Context, ev Event) []Outcome {
	var out []Outcome
	if n.Desktop {
		out = append(out, n.SendDesktop(ctx, ev))
	}
	if n.WebhookURL != "" {
		out = append(out, n.SendWebhook(ctx, ev))
	}
	return out
}

func (n *Notifier) getenv(k string) string { return runner.Getenv(n.Env, k) }

// BusAddress returns the session bus address notify-send would use:
// $DBUS_SESSION_BUS_ADDRESS, else unix:path=$XDG_RUNTIME_DIR/bus when that
// socket exists (a systemd user service has the socket but not always the
// variable). "" means no session bus: a system service, ssh without a
// session, CI.
func BusAddress(getenv func(string) string) string {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a
	}
	if rt := getenv("XDG_RUNTIME_DIR"); rt != "" {
		p := filepath.Join(rt, "bus")
		if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + p
		}
	}
	return ""
}

// SendDesktop runs notify-send when it is installed and a session bus is
// reachable; otherwise it reports why it skipped.
func (n *Notifier) SendDesktop(ctx context.Context, ev Event) Outcome {
	o := Outcome{Channel: "desktop"}
	bus := BusAddress(n.getenv)
	if bus == "" {
		o.Skipped = "no session bus (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus)"
		return o
	}
	if _, err := runner.LookPath("notify-send", n.Env); err != nil {
		o.Skipped = "notify-send is not installed (libnotify)"
		return o
	}
	if n.Runner == nil {
		o.Skipped = "no runner"
		return o
	}
	urgency := ev.Urgency
	if urgency == "" {
		urgency = Normal
	}
	app := ev.Tool
	if app == "" {
		app = "nixdots"
	}
	start := time.Now()
	_, err := n.Runner.Run(ctx, runner.Cmd{
		Name: "notify-send",
		// "--" ends the options: a summary starting with "-" stays text.
		Args:    []string{"--app-name=" + app, "--urgency=" + string(urgency), "--", ev.Summary, ev.Body},
		Env:     []string{"DBUS_SESSION_BUS_ADDRESS=" + bus},
		Timeout: desktopTimeout,
		Mutates: true,
	})
	o.Duration, o.Attempts = time.Since(start), 1
	if err != nil {
		o.Err = err
		return o
	}
	o.Sent = true
	return o
}

// SendWebhook POSTs the event's Payload as JSON to WebhookURL. Attempts that
// fail with a network error, a 5xx or a 429 are retried up to WebhookRetries
// times with doubling pauses; other 4xx answers are final (retrying a
// rejected request cannot help). All attempts and pauses share one deadline,
// WebhookTimeout from the start, so a hanging or dead endpoint costs at most
// that long.
func (n *Notifier) SendWebhook(ctx context.Context, ev Event) Outcome {
	o := Outcome{Channel: "webhook"}
	if n.WebhookURL == "" {
		o.Skipped = "no webhook URL configured"
		return o
	}
	if n.DryRun {
		o.Skipped = "dry run: would POST to " + n.WebhookURL
		return o
	}
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	body, err := json.Marshal(Payload{Version: 1, Tool: ev.Tool, Host: ev.Host, Status: ev.Status,
		Summary: ev.Summary, Body: ev.Body, Time: t.UTC(), Record: ev.Record})
	if err != nil {
		o.Err = fmt.Errorf("encode payload: %w", err)
		return o
	}
	budget := n.WebhookTimeout
	if budget <= 0 {
		budget = DefaultWebhookTimeout
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	client := n.Client
	if client == nil {
		client = &http.Client{}
	}
	sleep := n.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	backoff := firstBackoff
	for attempt := 0; attempt <= n.WebhookRetries; attempt++ {
		if attempt > 0 {
			left := time.Until(deadline(ctx))
			if left <= backoff {
				// Not worth a pause that ends at the deadline with no
				// time left for the attempt itself.
				break
			}
			if sleep(ctx, backoff) != nil {
				break
			}
			backoff *= 2
		}
		o.Attempts++
		status, retry, err := n.post(ctx, client, body)
		o.Status, o.Err = status, err
		if err == nil {
			o.Sent = true
			break
		}
		if !retry || ctx.Err() != nil {
			break
		}
	}
	o.Duration = time.Since(start)
	if !o.Sent && o.Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.Err = fmt.Errorf("gave up after the %s budget: %w", budget, o.Err)
	}
	return o
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}

// post makes one attempt. retry says whether another attempt could help.
func (n *Notifier) post(ctx context.Context, client *http.Client, body []byte) (status int, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	ua := n.UserAgent
	if ua == "" {
		ua = "nixdots"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	if err != nil {
		return 0, true, err
	}
	defer resp.Body.Close()
	// Read a little of the answer for the message, and drain the rest so
	// the connection can be reused by the next attempt.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, false, nil
	}
	err = fmt.Errorf("HTTP %s", resp.Status)
	if s := strings.TrimSpace(runner.Tail(string(snippet), 1)); s != "" {
		err = fmt.Errorf("HTTP %s: %s", resp.Status, s)
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	return resp.StatusCode, retry, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
