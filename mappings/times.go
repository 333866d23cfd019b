package mappings

import (
	"fmt"
	"math"
	"strings"
	"time"
	_ "time/tzdata" // zones such as Asia/Kolkata must resolve on hosts without tzdata
)

// Times in the language are RFC 3339 strings. Layouts are written the way
// DataWeave and Java write them (dd/MM/yyyy HH:mm:ss) and translated to Go's
// reference layouts at compile time; zones are IANA names.

// layoutTokens translates pattern letters, longest first.
var layoutTokens = []struct{ pat, goLayout string }{
	{"yyyy", "2006"}, {"uuuu", "2006"}, {"yy", "06"},
	{"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"M", "1"},
	{"dd", "02"}, {"d", "2"},
	{"EEEE", "Monday"}, {"EEE", "Mon"},
	{"HH", "15"}, {"hh", "03"}, {"h", "3"},
	{"mm", "04"}, {"ss", "05"},
	{"SSSSSSSSS", "000000000"}, {"SSSSSS", "000000"}, {"SSS", "000"},
	{"a", "PM"},
	{"XXX", "Z07:00"}, {"xxx", "-07:00"}, {"XX", "Z0700"}, {"Z", "-0700"},
}

// goLayout translates one pattern; text in single quotes is literal.
func goLayout(pat string) (string, error) {
	var b strings.Builder
	hasHour, hasMinute := false, false
	for i := 0; i < len(pat); {
		c := pat[i]
		if c == '\'' {
			j := strings.IndexByte(pat[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("quote not closed in layout %q", pat)
			}
			b.WriteString(pat[i+1 : i+1+j])
			i += j + 2
			continue
		}
		matched := false
		for _, t := range layoutTokens {
			if strings.HasPrefix(pat[i:], t.pat) {
				switch t.pat[0] {
				case 'H', 'h':
					hasHour = true
				case 'm':
					hasMinute = true
				}
				b.WriteString(t.goLayout)
				i += len(t.pat)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return "", fmt.Errorf("unknown letter %q in layout %q (quote literal text: 'T')", c, pat)
		}
		if c >= '0' && c <= '9' {
			return "", fmt.Errorf("digit %q in layout %q: Go-style layouts are not accepted, write dd/MM/yyyy", c, pat)
		}
		b.WriteByte(c)
		i++
	}
	if hasMinute && !hasHour {
		return "", fmt.Errorf("layout %q has minutes (mm) but no hour: for the month write MM", pat)
	}
	return b.String(), nil
}

// timeAux is what to_time and format_time prepare from constant arguments.
type timeAux struct {
	layouts []string // Go layouts; empty means RFC 3339
	loc     *time.Location
}

func checkTimeArgs(p *parser, c *callNode, layoutArg, zoneArg int) error {
	aux := timeAux{loc: time.UTC}
	if len(c.args) > layoutArg {
		pat, err := constString(p, c, layoutArg, "the layout")
		if err != nil {
			return err
		}
		for _, alt := range strings.Split(pat, "|") {
			alt = strings.TrimSpace(alt)
			if alt == "RFC3339" {
				aux.layouts = append(aux.layouts, time.RFC3339Nano)
				continue
			}
			l, err := goLayout(alt)
			if err != nil {
				return p.errAt(c.args[layoutArg].at(), "%s(): %v", c.fn.name, err)
			}
			aux.layouts = append(aux.layouts, l)
		}
	}
	if len(c.args) > zoneArg {
		z, err := constString(p, c, zoneArg, "the time zone")
		if err != nil {
			return err
		}
		loc, err := time.LoadLocation(z)
		if err != nil || z == "" || z == "Local" {
			return p.errAt(c.args[zoneArg].at(), "%s(): unknown time zone %q (an IANA name such as Asia/Kolkata or UTC)", c.fn.name, z)
		}
		aux.loc = loc
	}
	c.aux = aux
	return nil
}

func checkToTime(p *parser, c *callNode) error     { return checkTimeArgs(p, c, 1, 2) }
func checkFormatTime(p *parser, c *callNode) error { return checkTimeArgs(p, c, 1, 2) }

func toTimeEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	aux := c.aux.(timeAux)
	s = strings.TrimSpace(s)
	if len(aux.layouts) == 0 {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return missing, e.fail(c, v, "to_time(): %q is not an RFC 3339 time (give a layout, like to_time(x, \"dd/MM/yyyy\", \"Asia/Kolkata\"))", s)
		}
		return str(t.Format(time.RFC3339Nano)), nil
	}
	for _, l := range aux.layouts {
		if t, err := time.ParseInLocation(l, s, aux.loc); err == nil {
			return str(t.Format(time.RFC3339Nano)), nil
		}
	}
	return missing, e.fail(c, v, "to_time(): %q does not match the layout", s)
}

// tryTimeEval is toTimeEval for providers that send the odd malformed time: a
// string that does not parse is missing, so one bad scan does not fail a whole
// document. Non-string input is still an error.
func tryTimeEval(e *env, c *callNode) (Value, error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	aux := c.aux.(timeAux)
	s = strings.TrimSpace(s)
	if len(aux.layouts) == 0 {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return str(t.Format(time.RFC3339Nano)), nil
		}
		return missing, nil
	}
	for _, l := range aux.layouts {
		if t, err := time.ParseInLocation(l, s, aux.loc); err == nil {
			return str(t.Format(time.RFC3339Nano)), nil
		}
	}
	return missing, nil
}

// timeArg reads a call's first argument as an RFC 3339 time; ok is false
// (with v to return) when it is missing or null.
func (e *env) timeArg(c *callNode) (t time.Time, v Value, ok bool, err error) {
	s, v, ok, err := e.strArg(c, 0)
	if err != nil || !ok {
		return time.Time{}, v, false, err
	}
	t, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if perr != nil {
		return time.Time{}, missing, false, e.fail(c, v, "%s(): %q is not an RFC 3339 time (convert it with to_time first)", c.fn.name, s)
	}
	return t, v, true, nil
}

func formatTimeEval(e *env, c *callNode) (Value, error) {
	t, v, ok, err := e.timeArg(c)
	if err != nil || !ok {
		return v, err
	}
	aux := c.aux.(timeAux)
	if len(c.args) > 2 {
		t = t.In(aux.loc)
	}
	return str(t.Format(aux.layouts[0])), nil
}

// unixAux is a from_unix call's constant unit and zone.
type unixAux struct {
	millis bool
	loc    *time.Location
}

// unixMillis reads a call's constant Unix unit, its second argument: true
// for "ms", false for "s" or none.
func unixMillis(p *parser, c *callNode) (bool, error) {
	unit, err := constString(p, c, 1, "the unit")
	if err != nil {
		return false, err
	}
	if unit != "" && unit != "s" && unit != "ms" {
		return false, p.errAt(c.args[1].at(), "%s(): the unit is \"s\" (seconds) or \"ms\" (milliseconds), not %q", c.fn.name, unit)
	}
	return unit == "ms", nil
}

func checkFromUnix(p *parser, c *callNode) error {
	millis, err := unixMillis(p, c)
	if err != nil {
		return err
	}
	if err := checkTimeArgs(p, c, 3, 2); err != nil { // no layout; the zone is the third argument
		return err
	}
	c.aux = unixAux{millis: millis, loc: c.aux.(timeAux).loc}
	return nil
}

// fromUnixEval turns Unix seconds or milliseconds (a number or numeric text)
// into an RFC 3339 time in the call's zone.
func fromUnixEval(e *env, c *callNode) (Value, error) {
	f, v, ok, err := e.numArg(c, 0)
	if err != nil || !ok {
		return v, err
	}
	aux := c.aux.(unixAux)
	var t time.Time
	if aux.millis {
		t = time.UnixMilli(int64(f))
	} else {
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(frac*1e9))
	}
	return str(t.In(aux.loc).Format(time.RFC3339Nano)), nil
}

func checkToUnix(p *parser, c *callNode) error {
	millis, err := unixMillis(p, c)
	c.aux = millis
	return err
}

// toUnixEval turns an RFC 3339 time into Unix seconds or milliseconds.
func toUnixEval(e *env, c *callNode) (Value, error) {
	t, v, ok, err := e.timeArg(c)
	if err != nil || !ok {
		return v, err
	}
	if c.aux.(bool) {
		return num(float64(t.UnixMilli())), nil
	}
	return num(float64(t.Unix())), nil
}
