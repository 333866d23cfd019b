package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	n := flag.Int("docs", 1000, "documents in the corpus")
	dur := flag.Duration("time", 2*time.Second, "how long to run each implementation")
	ndjson := flag.String("ndjson", "", "write the corpus as NDJSON to this file (for timing hub map apply) and exit")
	flag.Parse()
	runtime.GOMAXPROCS(1)

	docs := corpus(*n)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	if *ndjson != "" {
		if err := writeNDJSON(*ndjson, docs); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ts, err := translators()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("FedEx Track response -> canonical TrackResponse: %d documents, %.1f KB on average, GOMAXPROCS=1, %s\n\n",
		len(docs), float64(total)/float64(len(docs))/1024, runtime.Version())
	type row struct {
		name                         string
		docsPerSec, mbPerSec, allocs float64
	}
	var rows []row
	for _, tr := range ts {
		r, err := measure(tr, docs, *dur)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", tr.name, err)
			os.Exit(1)
		}
		rows = append(rows, row{tr.name, r.docsPerSec, r.mbPerSec, r.allocsPerDoc})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "implementation\tdocs/s\tMB/s\tallocs/doc\tvs bloblang\tvs gjson\t")
	var blob, hand float64
	for _, r := range rows {
		switch r.name {
		case "bloblang":
			blob = r.docsPerSec
		case "hand-written gjson":
			hand = r.docsPerSec
		}
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%.0f\t%.1f\t%.0f\t%.2fx\t%.2fx\t\n", r.name, r.docsPerSec, r.mbPerSec, r.allocs, r.docsPerSec/blob, r.docsPerSec/hand)
	}
	w.Flush()
}

type result struct{ docsPerSec, mbPerSec, allocsPerDoc float64 }

// measure runs tr over the corpus repeatedly for about d and reports its rate.
func measure(tr translator, docs [][]byte, d time.Duration) (result, error) {
	var buf []byte
	var err error
	// Warm up: one pass.
	for _, in := range docs {
		if buf, err = tr.fn(buf[:0], in); err != nil {
			return result{}, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	count, bytes := 0, 0
	for time.Since(start) < d {
		for _, in := range docs {
			if buf, err = tr.fn(buf[:0], in); err != nil {
				return result{}, err
			}
			bytes += len(in)
		}
		count += len(docs)
	}
	el := time.Since(start).Seconds()
	runtime.ReadMemStats(&after)
	return result{
		docsPerSec:   float64(count) / el,
		mbPerSec:     float64(bytes) / el / 1e6,
		allocsPerDoc: float64(after.Mallocs-before.Mallocs) / float64(count),
	}, nil
}

func writeNDJSON(path string, docs [][]byte) error {
	var b strings.Builder
	for _, d := range docs {
		b.WriteString(strings.Join(strings.Fields(string(d)), " ")) // one line per document
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
