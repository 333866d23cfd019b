package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/engine/webhooks"
)

// maxPayload bounds the payload sign and verify read.
const maxPayload = 64 << 20

func webhooksCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Sign, verify and replay webhook deliveries",
		Long: `The hub signs every webhook delivery per the Standard Webhooks specification:
webhook-signature is "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under the key in the
endpoint's whsec_ secret. sign and verify let a receiving team reproduce that on their side;
replay re-queues an endpoint's deliveries through a running hub.`,
	}
	cmd.AddCommand(webhooksSignCmd(), webhooksVerifyCmd(), webhooksReplayCmd())
	return cmd
}

// signFlags are the inputs sign and verify share.
type signFlags struct {
	secret    string
	id        string
	timestamp string
}

func (f *signFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.secret, "secret", "", "the endpoint's whsec_ secret (env HUB_WEBHOOK_SECRET; prefer the environment)")
	cmd.Flags().StringVar(&f.id, "id", "", "the webhook-id header (the event id)")
	cmd.Flags().StringVar(&f.timestamp, "timestamp", "", "the webhook-timestamp header (Unix seconds)")
}

func (f *signFlags) check() error {
	if f.secret == "" {
		f.secret = os.Getenv("HUB_WEBHOOK_SECRET")
	}
	var missing []string
	for name, v := range map[string]string{"--secret": f.secret, "--id": f.id, "--timestamp": f.timestamp} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return &exitError{code: 2, msg: "missing " + strings.Join(missing, ", ")}
	}
	if err := store.CheckWebhookSecret(f.secret); err != nil {
		return &exitError{code: 2, msg: "--secret: " + strings.TrimPrefix(err.Error(), "invalid secret: ")}
	}
	if _, err := strconv.ParseInt(f.timestamp, 10, 64); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("--timestamp %q is not Unix seconds", f.timestamp)}
	}
	return nil
}

// readPayload reads the body from FILE, or standard input for "-" or no argument,
// byte for byte: the signature covers exactly these bytes.
func readPayload(cmd *cobra.Command, args []string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("reading the payload: %v", err)}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("reading the payload: %v", err)}
	}
	if len(b) > maxPayload {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("the payload is larger than %d bytes", maxPayload)}
	}
	return b, nil
}

func webhooksSignCmd() *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign --secret whsec_... --id ID --timestamp UNIX [FILE|-]",
		Short: "Print the webhook-signature value of a payload",
		Long: `sign prints the webhook-signature header value the hub would send for the payload in
FILE (or standard input), read byte for byte: a trailing newline is part of the payload.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			body, err := readPayload(cmd, args)
			if err != nil {
				return err
			}
			ts, _ := strconv.ParseInt(f.timestamp, 10, 64)
			sig, err := webhooks.Sign([]string{f.secret}, f.id, time.Unix(ts, 0), body)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			fmt.Fprintln(cmd.OutOrStdout(), sig)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func webhooksVerifyCmd() *cobra.Command {
	var (
		f           signFlags
		signature   string
		tolerance   time.Duration
		noTolerance bool
	)
	cmd := &cobra.Command{
		Use:   "verify --secret whsec_... --id ID --timestamp UNIX --signature SIG [FILE|-]",
		Short: "Check a received webhook's signature; exit 0 when valid, 1 when not",
		Long: `verify checks a received delivery the way a receiver must: the timestamp within
--tolerance of now (refusing replays; --no-tolerance skips the check for old captures), then
any v1 signature of --signature (the whole header value) matching the payload.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if signature == "" {
				return &exitError{code: 2, msg: "missing --signature"}
			}
			body, err := readPayload(cmd, args)
			if err != nil {
				return err
			}
			tol := tolerance
			if noTolerance {
				tol = 0
			}
			err = webhooks.Verify(f.secret, f.id, f.timestamp, signature, body, time.Now(), tol)
			switch {
			case err == nil:
				fmt.Fprintln(cmd.OutOrStdout(), "valid: the signature matches the payload")
				return nil
			case errors.Is(err, webhooks.ErrTimestamp):
				return &exitError{code: 1, msg: "invalid: " + err.Error() + " (pass --no-tolerance to check an old capture)"}
			case errors.Is(err, webhooks.ErrNoMatch):
				return &exitError{code: 1, msg: "invalid: no signature matches; check the secret, the id, the timestamp and that the payload is byte for byte what was received"}
			}
			return &exitError{code: 1, msg: "invalid: " + err.Error()}
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&signature, "signature", "", "the webhook-signature header value")
	cmd.Flags().DurationVar(&tolerance, "tolerance", webhooks.DefaultTolerance, "how far the timestamp may be from now")
	cmd.Flags().BoolVar(&noTolerance, "no-tolerance", false, "skip the timestamp check")
	return cmd
}

// parseWhen reads a time: RFC 3339, a date (UTC midnight), or a duration back from now ("36h").
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, &exitError{code: 2, msg: fmt.Sprintf("%s %q: want RFC 3339 (2026-05-01T10:00:00Z), a date (2026-05-01) or a duration back from now (36h)", flag, v)}
}

func webhooksReplayCmd() *cobra.Command {
	var (
		cf           clientFlags
		endpoint     string
		since, until string
		page         int
	)
	cmd := &cobra.Command{
		Use:   "replay --endpoint ID --since TIME [--until TIME]",
		Short: "Re-queue an endpoint's delivered and dead deliveries through a running hub",
		Long: `replay asks the hub to send again every delivery of the endpoint whose event happened in
[--since, --until), whether it succeeded or died, page by page, showing progress (a bar on a
terminal, a line per page otherwise). Receivers de-duplicate by webhook-id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if endpoint == "" || since == "" {
				return &exitError{code: 2, msg: "--endpoint and --since are required"}
			}
			now := time.Now()
			from, err := parseWhen("--since", since, now)
			if err != nil {
				return err
			}
			to := now
			if until != "" {
				if to, err = parseWhen("--until", until, now); err != nil {
					return err
				}
			}
			if page < 1 || page > 1000 {
				return &exitError{code: 2, msg: "--page must be 1 to 1000"}
			}
			in := map[string]any{"since": from.UTC().Format(time.RFC3339Nano), "until": to.UTC().Format(time.RFC3339Nano), "limit": page}
			progress := cmd.ErrOrStderr()
			bar := isTerminal(progress)
			var done int64
			path := "/v1/webhooks/endpoints/" + url.PathEscape(endpoint) + "/replay"
			for {
				body, _ := json.Marshal(in)
				r, err := cf.call(cmd.Context(), http.MethodPost, path, body, nil)
				if err != nil {
					return err
				}
				if r.status != http.StatusOK {
					if bar && done > 0 {
						fmt.Fprintln(progress)
					}
					return problemError(r)
				}
				var res store.ReplayResult
				if err := json.Unmarshal(r.body, &res); err != nil {
					return fmt.Errorf("reading the hub's answer: %w", err)
				}
				done += res.Queued
				total := done + res.Remaining
				if bar {
					fmt.Fprintf(progress, "\r%s %d/%d", progressBar(done, total, 30), done, total)
				} else {
					fmt.Fprintf(progress, "queued %d of %d\n", done, total)
				}
				if res.Next == "" {
					break
				}
				in["after"] = res.Next
			}
			if bar {
				fmt.Fprintln(progress)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued %d deliveries of endpoint %s\n", done, endpoint)
			return nil
		},
	}
	cf.register(cmd, true)
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the webhook endpoint id (whe_...)")
	cmd.Flags().StringVar(&since, "since", "", "the window's start: RFC 3339, a date, or a duration back from now (36h)")
	cmd.Flags().StringVar(&until, "until", "", "the window's end (exclusive); now when absent")
	cmd.Flags().IntVar(&page, "page", 500, "deliveries re-queued per request (1 to 1000)")
	return cmd
}

// progressBar draws done of total as a bar width characters wide.
func progressBar(done, total int64, width int) string {
	filled := width
	if total > 0 {
		filled = int(done * int64(width) / total)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}
