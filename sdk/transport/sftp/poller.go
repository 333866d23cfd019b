package sftp

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// File is what a Poller hands to its process func: one remote file, whole.
type File struct {
	// Name is the file's base name as it arrived in the inbox.
	Name string
	// Key identifies this arrival of the file: name, size and modification time
	// (see IdempotencyKey). A process func that must not act twice on the same
	// file, even in the Poller's at-least-once window, de-duplicates on it.
	Key string
	// Size is the file's length in bytes.
	Size int64
	// ModTime is the file's modification time, in whole seconds.
	ModTime time.Time
	// Data is the file's content.
	Data []byte
}

// IdempotencyKey returns the key a Poller passes as File.Key: the name, the size
// and the modification time in Unix seconds, joined by ':' (the name may itself
// contain ':'; the last two fields are always numbers).
func IdempotencyKey(name string, size int64, modTime time.Time) string {
	return name + ":" + strconv.FormatInt(size, 10) + ":" + strconv.FormatInt(modTime.Unix(), 10)
}

// ProcessFunc handles one file. Returning nil means the file's effects are
// committed: the Poller then records it in the Journal and archives or deletes it.
// Returning an error leaves the file claimed, to be offered again on the next
// pass, unless the error is a non-retryable *sdk.Error and Poller.FailedDir is set,
// in which case the file is moved there.
type ProcessFunc func(ctx context.Context, f File) error

// Poller takes files matching a glob from an inbox directory and processes each
// exactly once, across restarts of the hub.
//
// One pass (Poll) does this:
//
//  1. Resume: every file this Poller claimed earlier and did not finish (it is
//     still in ProcessingDir) is finished first, as in steps 4 to 6.
//  2. Look: list Dir for regular files matching Pattern (no symlinks; dot files
//     only when the pattern starts with a dot). A file larger than MaxFileSize is
//     reported, and moved to FailedDir when one is set.
//  3. Stable: a file is taken only when its size and modification time are the
//     same as on the previous look, so a file still being written is left alone.
//     The previous look is the previous pass; with SettleDelay set, a pass that
//     sees a new or changed file looks again after that delay itself.
//  4. Claim: rename the file into ProcessingDir under a unique name. The rename is
//     atomic on the server and refuses to replace, so of several Pollers sharing
//     an inbox exactly one takes each file.
//  5. Process: download it and call the process func with the idempotency key.
//  6. Commit: on success, record the claim in the Journal (durably), then move the
//     file to ArchiveDir (or delete it when ArchiveDir is empty), then forget the
//     claim in the Journal.
//
// The guarantee: a file's process func returns success once, unless the hub stops
// between the process func returning nil and the Journal write in step 6
// completing. In that one window the next pass runs the process func again for the
// same file with the same File.Key, which is why the key is passed: a process func
// whose effects must not repeat de-duplicates on it (at-least-once there, exactly
// once everywhere else). A stop anywhere else is harmless: before the claim the
// file is still in the inbox; after the claim but before success it is offered
// again; after the Journal write it is archived without being processed again.
//
// Each Poller that runs at the same time as another needs its own ProcessingDir
// and its own Journal: resuming takes every file in ProcessingDir. A Poller is not
// safe for concurrent use; call Poll from one goroutine.
type Poller struct {
	// Client is the connection to use. The Poller does not close it.
	Client *Client
	// Dir is the inbox directory, relative to the client's root.
	Dir string
	// Pattern is a path.Match glob on base names; empty matches every file.
	Pattern string
	// ProcessingDir holds claimed files; it is created when missing. It must be on
	// the same file system as Dir (renames cannot cross file systems).
	ProcessingDir string
	// ArchiveDir receives processed files; it is created when missing. Empty
	// means processed files are deleted.
	ArchiveDir string
	// FailedDir, when set, receives files that are too large or whose process func
	// returned a non-retryable error; it is created when missing.
	FailedDir string
	// Journal records processed claims. Required; use a FileJournal to survive
	// restarts.
	Journal Journal
	// Process handles each file. Required.
	Process ProcessFunc
	// MaxFileSize bounds the files taken; zero means the client's limit.
	MaxFileSize int64
	// SettleDelay, when positive, makes a pass that finds a new or changed file
	// look again after this delay instead of waiting for the next pass.
	SettleDelay time.Duration

	prev     map[string]FileInfo
	prepared bool
}

// Report says what one pass did.
type Report struct {
	// Processed lists the files processed and archived or deleted, by inbox name.
	Processed []string
	// Finished lists claimed files found already processed in the Journal (a stop
	// after step 6's Journal write) and now archived or deleted without being
	// processed again.
	Finished []string
	// Waiting lists files seen but not yet stable.
	Waiting []string
	// Failed lists files that could not be processed this pass, with the reason.
	Failed []FileError
}

// FileError is one file's failure in a pass.
type FileError struct {
	// Name is the file's inbox name.
	Name string
	// Err is the classified error.
	Err *sdk.Error
	// Moved is true when the file was moved to FailedDir.
	Moved bool
}

// claimSep separates the claim id from the original name in ProcessingDir.
const claimSep = "_"

// Poll runs one pass. It returns an error only when the pass could not run (the
// connection failed, a directory is missing or outside the root, the Poller is
// misconfigured); failures of single files are in the Report.
func (p *Poller) Poll(ctx context.Context) (Report, error) {
	var rep Report
	if err := p.prepare(ctx); err != nil {
		return rep, err
	}
	// 1. Resume claims left by an earlier pass or an earlier process.
	claims, err := p.Client.List(ctx, p.ProcessingDir, "")
	if err != nil {
		return rep, err
	}
	for _, fi := range claims {
		if !fi.Regular {
			continue
		}
		name, ok := claimedName(fi.Name)
		if !ok {
			continue // not ours
		}
		if err := p.finish(ctx, fi, name, &rep); err != nil {
			return rep, err
		}
	}

	// 2 and 3. Look, and look again when asked to.
	cur, err := p.look(ctx)
	if err != nil {
		return rep, err
	}
	if p.SettleDelay > 0 && p.unstable(cur) {
		p.prev = cur
		t := time.NewTimer(p.SettleDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return rep, ctxError(ctx, ctx.Err())
		case <-t.C:
		}
		if cur, err = p.look(ctx); err != nil {
			return rep, err
		}
	}
	prev := p.prev
	p.prev = cur
	limit := p.maxSize()
	for _, fi := range sortedValues(cur) {
		if fi.Size > limit {
			p.fail(ctx, &rep, fi.Name, path.Join(p.Dir, fi.Name), tooLarge(fi.Name, fi.Size, limit).(*sdk.Error))
			delete(p.prev, fi.Name)
			continue
		}
		if old, ok := prev[fi.Name]; !ok || old.Size != fi.Size || !old.ModTime.Equal(fi.ModTime) {
			rep.Waiting = append(rep.Waiting, fi.Name)
			continue
		}
		// 4. Claim.
		claim := randomHex(8) + claimSep + fi.Name
		err := p.Client.Rename(ctx, path.Join(p.Dir, fi.Name), path.Join(p.ProcessingDir, claim))
		delete(p.prev, fi.Name)
		if err != nil {
			se := sdk.AsError(err)
			if se.Code == sdk.CodeNotFound {
				continue // another Poller took it, or its sender removed it
			}
			if se.Code == sdk.CodeCarrierUnavailable || se.Code == sdk.CodeTimeout {
				return rep, err
			}
			rep.Failed = append(rep.Failed, FileError{Name: fi.Name, Err: se})
			continue
		}
		fi.Name = claim
		if err := p.finish(ctx, fi, claimToName(claim), &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// finish runs steps 5 and 6 for a claimed file. It returns an error only when the
// pass must stop (the connection or the Journal failed).
func (p *Poller) finish(ctx context.Context, fi FileInfo, name string, rep *Report) error {
	claimPath := path.Join(p.ProcessingDir, fi.Name)
	done, err := p.Journal.Done(ctx, fi.Name)
	if err != nil {
		return journalStop("reading", err)
	}
	if done {
		if err := p.retire(ctx, claimPath, name); err != nil {
			return p.fileOrStop(rep, name, err)
		}
		if err := p.Journal.Forget(ctx, fi.Name); err != nil {
			return journalStop("forgetting in", err)
		}
		rep.Finished = append(rep.Finished, name)
		return nil
	}
	if fi.Size > p.maxSize() {
		p.fail(ctx, rep, name, claimPath, tooLarge(name, fi.Size, p.maxSize()).(*sdk.Error))
		return nil
	}
	data, err := p.Client.Download(ctx, claimPath)
	if err != nil {
		return p.fileOrStop(rep, name, err)
	}
	f := File{Name: name, Key: IdempotencyKey(name, fi.Size, fi.ModTime), Size: fi.Size, ModTime: fi.ModTime, Data: data}
	if err := p.Process(ctx, f); err != nil {
		se := sdk.AsError(err)
		if !se.Code.Retryable() && ctx.Err() == nil {
			p.fail(ctx, rep, name, claimPath, se)
		} else {
			rep.Failed = append(rep.Failed, FileError{Name: name, Err: se})
		}
		return nil
	}
	if err := p.Journal.MarkDone(ctx, fi.Name); err != nil {
		return journalStop("recording in", err)
	}
	if err := p.retire(ctx, claimPath, name); err != nil {
		return p.fileOrStop(rep, name, err)
	}
	if err := p.Journal.Forget(ctx, fi.Name); err != nil {
		return journalStop("forgetting in", err)
	}
	rep.Processed = append(rep.Processed, name)
	return nil
}

// retire archives or deletes a processed claim.
func (p *Poller) retire(ctx context.Context, claimPath, name string) error {
	if p.ArchiveDir == "" {
		return p.Client.Remove(ctx, claimPath)
	}
	return p.moveOut(ctx, claimPath, p.ArchiveDir, name)
}

// moveOut moves a claim to dir under its original name, or under the claim name
// when that is taken.
func (p *Poller) moveOut(ctx context.Context, claimPath, dir, name string) error {
	err := p.Client.Rename(ctx, claimPath, path.Join(dir, name))
	if se := sdk.AsError(err); se != nil && se.Code == sdk.CodeConflict {
		err = p.Client.Rename(ctx, claimPath, path.Join(dir, path.Base(claimPath)))
	}
	return err
}

// fail reports a file and moves it to FailedDir when one is set.
func (p *Poller) fail(ctx context.Context, rep *Report, name, from string, se *sdk.Error) {
	fe := FileError{Name: name, Err: se}
	if p.FailedDir != "" {
		if err := p.moveOut(ctx, from, p.FailedDir, name); err == nil {
			fe.Moved = true
		}
	}
	rep.Failed = append(rep.Failed, fe)
}

// fileOrStop records a per-file error, or returns it when the connection is gone
// and the pass cannot go on.
func (p *Poller) fileOrStop(rep *Report, name string, err error) error {
	se := sdk.AsError(err)
	if se.Code == sdk.CodeCarrierUnavailable || se.Code == sdk.CodeTimeout {
		return se
	}
	rep.Failed = append(rep.Failed, FileError{Name: name, Err: se})
	return nil
}

func journalStop(what string, err error) error {
	se := sdk.AsError(err)
	return &sdk.Error{Code: se.Code, Source: se.Source, Message: what + " the journal: " + se.Message}
}

func (p *Poller) maxSize() int64 {
	if p.MaxFileSize > 0 && p.MaxFileSize < p.Client.MaxFileSize() {
		return p.MaxFileSize
	}
	return p.Client.MaxFileSize()
}

func (p *Poller) prepare(ctx context.Context) error {
	switch {
	case p.Client == nil:
		return invalidConfig("sftp poller: client is required")
	case p.Journal == nil:
		return invalidConfig("sftp poller: journal is required")
	case p.Process == nil:
		return invalidConfig("sftp poller: process func is required")
	case p.Dir == "":
		return invalidConfig("sftp poller: inbox directory is required")
	case p.ProcessingDir == "":
		return invalidConfig("sftp poller: processing directory is required")
	}
	if p.Pattern != "" {
		if _, err := path.Match(p.Pattern, ""); err != nil {
			return invalidConfig("sftp poller: glob pattern %q is malformed", p.Pattern)
		}
	}
	if p.prepared {
		return nil
	}
	dirs := map[string]string{"processing": p.ProcessingDir, "archive": p.ArchiveDir, "failed": p.FailedDir}
	inbox, err := clean(p.Dir)
	if err != nil {
		return err
	}
	for what, d := range dirs {
		if d == "" {
			continue
		}
		cd, err := clean(d)
		if err != nil {
			return err
		}
		if cd == inbox {
			return invalidConfig("sftp poller: the %s directory must differ from the inbox", what)
		}
		if err := p.Client.MkdirAll(ctx, d); err != nil {
			return fmt.Errorf("preparing the %s directory: %w", what, err)
		}
	}
	p.prepared = true
	return nil
}

// look lists the inbox's candidate files.
func (p *Poller) look(ctx context.Context) (map[string]FileInfo, error) {
	infos, err := p.Client.List(ctx, p.Dir, p.Pattern)
	if err != nil {
		return nil, err
	}
	out := make(map[string]FileInfo, len(infos))
	for _, fi := range infos {
		if fi.Regular {
			out[fi.Name] = fi
		}
	}
	return out, nil
}

func (p *Poller) unstable(cur map[string]FileInfo) bool {
	for name, fi := range cur {
		old, ok := p.prev[name]
		if !ok || old.Size != fi.Size || !old.ModTime.Equal(fi.ModTime) {
			return true
		}
	}
	return false
}

func sortedValues(m map[string]FileInfo) []FileInfo {
	out := make([]FileInfo, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sortInfos(out)
	return out
}

// claimedName returns the inbox name inside a claim name, and whether name is a
// claim at all (16 hex digits, the separator, a name).
func claimedName(name string) (string, bool) {
	if len(name) < 18 || name[16:17] != claimSep {
		return "", false
	}
	for _, r := range name[:16] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", false
		}
	}
	return name[17:], true
}

func claimToName(claim string) string {
	n, _ := claimedName(claim)
	return n
}
