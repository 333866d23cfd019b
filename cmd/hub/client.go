package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/api"
)

// clientFlags are the flags of commands that call a running hub.
type clientFlags struct {
	hubURL string
	apiKey string
}

func (f *clientFlags) register(cmd *cobra.Command, needKey bool) {
	cmd.Flags().StringVar(&f.hubURL, "hub-url", envOr("HUB_URL", "http://127.0.0.1:8080"), "the hub's base URL (env HUB_URL)")
	if needKey {
		cmd.Flags().StringVar(&f.apiKey, "api-key", "", "the API key (env HUB_API_KEY; prefer the environment, command lines are visible to other users)")
	}
}

func (f *clientFlags) key() string {
	if f.apiKey != "" {
		return f.apiKey
	}
	return os.Getenv("HUB_API_KEY")
}

// hubResponse is one answer from the hub.
type hubResponse struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request to the hub; errors are transport failures only.
func (f *clientFlags) call(ctx context.Context, method, path string, body []byte, header http.Header) (*hubResponse, error) {
	base, err := url.Parse(f.hubURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("--hub-url %q is not an http(s) URL", f.hubURL)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(f.hubURL, "/")+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k := f.key(); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling the hub at %s: %w", f.hubURL, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the hub's answer: %w", err)
	}
	return &hubResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// problemError turns a non-2xx answer into an error that prints the problem.
func problemError(r *hubResponse) error {
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status == 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("the hub answered %d: %s", r.status, clip(string(r.body), 200))}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", p.Status, p.Code, p.Detail)
	if p.Source != "" {
		fmt.Fprintf(&b, "\n  source: %s", p.Source)
	}
	if p.CarrierCode != "" || p.CarrierMessage != "" {
		fmt.Fprintf(&b, "\n  carrier said: %s %s", p.CarrierCode, p.CarrierMessage)
	}
	for _, e := range p.Errors {
		where := e.Parameter
		if e.Pointer != nil {
			where = *e.Pointer
			if where == "" {
				where = "(body)"
			}
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, e.Detail)
	}
	if p.RetryAfter > 0 {
		fmt.Fprintf(&b, "\n  retry after: %ds", p.RetryAfter)
	}
	if p.RequestID != "" {
		fmt.Fprintf(&b, "\n  request id: %s", p.RequestID)
	}
	return &exitError{code: 1, msg: b.String()}
}

func connectorsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "connectors", Short: "Inspect the connectors of a running hub"}
	var (
		cf     clientFlags
		output string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List connectors with their operations and process state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			r, err := cf.call(cmd.Context(), "GET", "/v1/connectors", nil, nil)
			if err != nil {
				return err
			}
			if r.status != http.StatusOK {
				return problemError(r)
			}
			var list []api.ConnectorView
			if err := json.Unmarshal(r.body, &list); err != nil {
				return fmt.Errorf("reading the connector list: %w", err)
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), list)
			}
			w := table(cmd.OutOrStdout())
			fmt.Fprintln(w, "ID\tVERSION\tSTATE\tPID\tOPERATIONS")
			for _, c := range list {
				ops := make([]string, len(c.Operations))
				for i, o := range c.Operations {
					ops[i] = string(o.Name)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", clip(c.ID, 24), clip(c.Version, 8), c.State, pid(c.PID), clip(strings.Join(ops, ","), 25))
			}
			return w.Flush()
		},
	}
	cf.register(list, true)
	outputFlag(list, &output)
	cmd.AddCommand(list)
	return cmd
}

func pid(p int) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func invokeCmd() *cobra.Command {
	var (
		cf                 clientFlags
		file, account, key string
	)
	cmd := &cobra.Command{
		Use:   "invoke CONNECTOR OPERATION",
		Short: "Run an operation through a running hub and print its JSON answer",
		Long: `Run a canonical operation (track, create_shipment, ...) through a running hub. The
request body comes from --file, or standard input with --file - (the default). The
canonical response is printed to standard output; a problem goes to standard error and
the exit status is 1.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			var err error
			if file == "-" {
				body, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<20))
			} else {
				body, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("reading the request: %w", err)
			}
			h := http.Header{}
			if account != "" {
				h.Set("Hub-Account", account)
			}
			if key != "" {
				h.Set("Idempotency-Key", key)
			}
			path := "/v1/connectors/" + url.PathEscape(args[0]) + "/" + url.PathEscape(args[1])
			r, err := cf.call(cmd.Context(), "POST", path, body, h)
			if err != nil {
				return err
			}
			if r.status != http.StatusOK {
				return problemError(r)
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, r.body, "", "  ") != nil {
				pretty.Reset()
				pretty.Write(r.body)
			}
			pretty.WriteByte('\n')
			_, err = cmd.OutOrStdout().Write(pretty.Bytes())
			return err
		},
	}
	cf.register(cmd, true)
	cmd.Flags().StringVarP(&file, "file", "f", "-", "the canonical request as JSON; - reads standard input")
	cmd.Flags().StringVar(&account, "account", "", "the account to act for (needed when the tenant has several for this connector)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "an Idempotency-Key for a creating operation")
	return cmd
}
