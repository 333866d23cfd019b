package inbound

import "github.com/prometheus/client_golang/prometheus"

// InboxCollector exposes an Inbox's totals to Prometheus, read at scrape time:
//
//	hub_sftp_inbox_files_total{outcome}   files by outcome: processed, duplicate,
//	                                      finished, failed, rejected
//	hub_sftp_inbox_polls_total{outcome}   inbox polls: ok, error, lease_held
//	hub_sftp_inbox_accounts{state}        accounts with an inbox: ok, broken
//
// Labels are bounded: accounts never become labels (Inbox.Status has them).
type InboxCollector struct {
	in       *Inbox
	files    *prometheus.Desc
	polls    *prometheus.Desc
	accounts *prometheus.Desc
}

var _ prometheus.Collector = (*InboxCollector)(nil)

// NewInboxCollector returns the collector of in; register it on the hub's registry.
func NewInboxCollector(in *Inbox) *InboxCollector {
	return &InboxCollector{in: in,
		files: prometheus.NewDesc("hub_sftp_inbox_files_total",
			"Status files taken from SFTP inboxes, by outcome: processed (handed to receive_push and archived), duplicate (already processed, archived without a call), finished (processed before a stop, archived now), failed (left to be offered again), rejected (moved to the failed directory).",
			[]string{"outcome"}, nil),
		polls: prometheus.NewDesc("hub_sftp_inbox_polls_total",
			"SFTP inbox polls by outcome: ok, error (the server, the credentials, the lease or the store failed), lease_held (another replica polls the inbox).",
			[]string{"outcome"}, nil),
		accounts: prometheus.NewDesc("hub_sftp_inbox_accounts",
			"Accounts with an SFTP inbox, by state: ok, or broken (bad settings, unreachable server, refused credentials; see the log).",
			[]string{"state"}, nil),
	}
}

// Describe sends the descriptors.
func (c *InboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.files
	ch <- c.polls
	ch <- c.accounts
}

// Collect sends the current values.
func (c *InboxCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.in.Totals()
	counter := func(d *prometheus.Desc, v int64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	counter(c.files, t.Processed, "processed")
	counter(c.files, t.Duplicates, "duplicate")
	counter(c.files, t.Finished, "finished")
	counter(c.files, t.Failed, "failed")
	counter(c.files, t.Rejected, "rejected")
	counter(c.polls, t.Polls-t.PollErrors-t.LeaseHeld, "ok")
	counter(c.polls, t.PollErrors, "error")
	counter(c.polls, t.LeaseHeld, "lease_held")
	ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(t.Inboxes-t.Broken), "ok")
	ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(t.Broken), "broken")
}
