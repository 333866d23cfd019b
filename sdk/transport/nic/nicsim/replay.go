package nicsim

import (
	"fmt"
	"io/fs"
	"sync"

	"github.com/carrierhub/hub/sdk/exchanges"
)

// Replayer makes a Server answer from a connector's recorded exchanges: Select
// one file and the server expects the file's provider calls, whose payloads
// the files show decrypted, and answers each with the recorded answer sealed
// under the session key; Unmatched reports calls that differed and recorded
// calls never made. It is what a NIC connector's simulator adds to a Server
// for hub connector test.
type Replayer struct {
	// Server is the simulator the replies are scripted on.
	Server *Server
	// Files is the connector's folder (testdata/exchanges/*.yaml).
	Files fs.FS
	// Replies reads one file's provider exchanges as the server's replies.
	Replies func(f *exchanges.File) ([]Reply, error)

	mu      sync.Mutex
	notes   []string
	current string
}

// Select makes the server answer from one recorded exchanges file (its name
// without .yaml) until the next Select; "" returns it to its own behaviour.
func (r *Replayer) Select(file string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect()
	if file == "" {
		return
	}
	replies, err := r.replies(file)
	if err != nil {
		r.notes = append(r.notes, err.Error())
		r.Server.Script([]Reply{})
		return
	}
	r.Server.Script(replies)
	r.current = file
}

// Unmatched lists the calls that did not match the selected recordings, and
// recorded exchanges no call made.
func (r *Replayer) Unmatched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect()
	return append([]string(nil), r.notes...)
}

// collect notes what the last selected file's replay left unmatched and
// returns the server to its own behaviour. Called with r.mu held.
func (r *Replayer) collect() {
	for _, m := range r.Server.Mismatches() {
		r.notes = append(r.notes, r.current+": "+m)
	}
	if n := r.Server.ScriptLeft(); n > 0 && r.current != "" {
		r.notes = append(r.notes, fmt.Sprintf("%s: %d recorded exchange(s) the connector never made", r.current, n))
	}
	r.Server.Script(nil)
	r.current = ""
}

// replies reads and parses one recorded file.
func (r *Replayer) replies(file string) ([]Reply, error) {
	name := exchanges.Dir + "/" + file + ".yaml"
	data, err := fs.ReadFile(r.Files, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	f, err := exchanges.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return r.Replies(f)
}
