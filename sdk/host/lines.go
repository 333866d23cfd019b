package host

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// maxLine bounds one logged line; longer output is cut, never buffered unbounded.
const maxLine = 16 << 10

// lineLogger turns a connector's output into log records, one per line. JSON
// lines written by the SDK's slog handler keep their level, message and
// attributes; anything else is logged verbatim at info level.
type lineLogger struct {
	logger *slog.Logger
	stream string

	mu      sync.Mutex
	partial []byte
	last    []string // the last few lines, for start-up error messages
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) > maxLine {
				l.emit(l.partial[:maxLine])
				l.partial = l.partial[:0]
			}
			break
		}
		line := p[:i]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		l.emit(line)
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineLogger) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return
	}
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	l.last = append(l.last, string(line))
	if len(l.last) > 5 {
		l.last = l.last[1:]
	}
	var rec map[string]any
	if line[0] == '{' && json.Unmarshal(line, &rec) == nil {
		msg, _ := rec["msg"].(string)
		if msg == "" {
			msg, _ = rec["@message"].(string) // hclog's JSON
		}
		level := parseLevel(rec)
		attrs := make([]slog.Attr, 0, len(rec))
		for k, v := range rec {
			switch k {
			case "msg", "level", "time", "@message", "@level", "@timestamp", "@module":
				continue
			}
			attrs = append(attrs, slog.Any(k, v))
		}
		l.logger.LogAttrs(context.Background(), level, msg, attrs...)
		return
	}
	l.logger.Info(string(line), "stream", l.stream)
}

func (l *lineLogger) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, " | ")
}

func parseLevel(rec map[string]any) slog.Level {
	s, _ := rec["level"].(string)
	if s == "" {
		s, _ = rec["@level"].(string)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return slog.LevelInfo
	}
	return lvl
}
