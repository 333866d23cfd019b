package mappings

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tPunct // operators and brackets; the text says which
)

// token is one lexical token with the position of its first character.
type token struct {
	kind tokKind
	text string // identifier, operator, raw number; the decoded value for strings
	pos  Pos
}

// Pos is a position in a mapping file, 1-based.
type Pos struct {
	Line, Col int
}

// puncts are the operators and brackets, longest first.
var puncts = []string{
	"==", "!=", "<=", ">=", "&&", "||", "??", "->", "=>",
	"{", "}", "[", "]", "(", ")", ",", ":", ".", "+", "-", "*", "/", "%", "<", ">", "!", "=", "?", "|",
}

// lex splits src into tokens. Comments run from # to the end of the line.
func lex(file, src string) ([]token, error) {
	if !utf8.ValidString(src) {
		return nil, &CompileError{File: file, Pos: Pos{1, 1}, Msg: "mapping file is not valid UTF-8"}
	}
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else if src[i]&0xC0 != 0x80 {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			adv(1)
			continue
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
			continue
		}
		p := Pos{line, col}
		switch {
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], p})
			adv(j - i)
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{tNumber, strings.ReplaceAll(src[i:j], "_", ""), p})
			adv(j - i)
		case c == '"' || c == '\'':
			s, n, err := lexString(src[i:])
			if err != "" {
				return nil, &CompileError{File: file, Pos: p, Msg: err}
			}
			toks = append(toks, token{tString, s, p})
			adv(n)
		default:
			matched := false
			for _, op := range puncts {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{tPunct, op, p})
					adv(len(op))
					matched = true
					break
				}
			}
			if !matched {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, &CompileError{File: file, Pos: p, Msg: fmt.Sprintf("unexpected character %q", r)}
			}
		}
	}
	toks = append(toks, token{tEOF, "", Pos{line, col}})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// lexString decodes a quoted string at the start of s and returns it with the
// number of bytes consumed, or an error message.
func lexString(s string) (string, int, string) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, ""
		case c == '\n':
			return "", 0, "string not closed before the end of the line"
		case c == '\\':
			i++
			if i >= len(s) {
				return "", 0, "string not closed"
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '"', '\'', '/':
				b.WriteByte(s[i])
			case 'u':
				if i+4 >= len(s) {
					return "", 0, "bad \\u escape"
				}
				var r rune
				for _, h := range s[i+1 : i+5] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= h - '0'
					case h >= 'a' && h <= 'f':
						r |= h - 'a' + 10
					case h >= 'A' && h <= 'F':
						r |= h - 'A' + 10
					default:
						return "", 0, "bad \\u escape"
					}
				}
				b.WriteRune(r)
				i += 4
			default:
				return "", 0, fmt.Sprintf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, "string not closed"
}
