package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// testSFTPInbox checks store.SFTPInboxStore: the file records that serve as the
// SFTP Poller's journal (per account, durable, idempotent, purged by age, gone
// with the account), validation, and the per-inbox leases (exclusive, renewed,
// taken over after expiry or release, one winner among racers).
func testSFTPInbox(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tn := mustTenant(t, s, "Acme")
	a1 := sampleAccount(tn.ID)
	a1.ConnectorID, a1.Name = "statusfile", "inbox one"
	acc1 := mustAccount(t, s, a1)
	a2 := a1
	a2.Name = "inbox two"
	acc2 := mustAccount(t, s, a2)
	unknown := "acc_" + strings.Repeat("q", 26)

	t.Run("Journal", func(t *testing.T) {
		const key = "file/AWB status 2024-05-01.csv:120:1714550400"
		done, err := s.SFTPFileDone(ctx, acc1.ID, key)
		if err != nil || done {
			t.Fatalf("SFTPFileDone before marking = %v, %v; want false", done, err)
		}
		if err := s.MarkSFTPFileDone(ctx, acc1.ID, key); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkSFTPFileDone(ctx, acc1.ID, key); err != nil {
			t.Fatalf("marking a key again: %v, want success", err)
		}
		if done, err := s.SFTPFileDone(ctx, acc1.ID, key); err != nil || !done {
			t.Fatalf("SFTPFileDone after marking = %v, %v; want true", done, err)
		}
		// Keys are per account.
		if done, err := s.SFTPFileDone(ctx, acc2.ID, key); err != nil || done {
			t.Fatalf("another account sees the key: %v, %v", done, err)
		}
		// Keys are compared exactly.
		for _, other := range []string{strings.ToUpper(key), key + " ", "file/AWB status 2024-05-01.csv:120:1714550401"} {
			if done, err := s.SFTPFileDone(ctx, acc1.ID, other); err != nil || done {
				t.Fatalf("SFTPFileDone(%q) = %v, %v; want false", other, done, err)
			}
		}
		if err := s.ForgetSFTPFile(ctx, acc2.ID, key); err != nil {
			t.Fatalf("forgetting a key not recorded: %v, want success", err)
		}
		if done, _ := s.SFTPFileDone(ctx, acc1.ID, key); !done {
			t.Fatal("forgetting another account's key removed this one's")
		}
		if err := s.ForgetSFTPFile(ctx, acc1.ID, key); err != nil {
			t.Fatal(err)
		}
		if done, err := s.SFTPFileDone(ctx, acc1.ID, key); err != nil || done {
			t.Fatalf("SFTPFileDone after forgetting = %v, %v; want false", done, err)
		}
		// Unicode names and the longest key round-trip.
		for _, k := range []string{"claim/0123456789abcdef_स्थिति.csv", strings.Repeat("k", store.MaxSFTPKeyLen)} {
			if err := s.MarkSFTPFileDone(ctx, acc1.ID, k); err != nil {
				t.Fatalf("MarkSFTPFileDone(%.20q): %v", k, err)
			}
			if done, err := s.SFTPFileDone(ctx, acc1.ID, k); err != nil || !done {
				t.Fatalf("SFTPFileDone(%.20q) = %v, %v", k, done, err)
			}
		}
	})

	t.Run("UnknownAccount", func(t *testing.T) {
		wantErr(t, "MarkSFTPFileDone unknown account", s.MarkSFTPFileDone(ctx, unknown, "file/x"), store.ErrNotFound)
		wantErr(t, "MarkSFTPFileDone malformed account", s.MarkSFTPFileDone(ctx, "../etc", "file/x"), store.ErrNotFound)
		if done, err := s.SFTPFileDone(ctx, unknown, "file/x"); err != nil || done {
			t.Fatalf("SFTPFileDone(unknown account) = %v, %v; want false", done, err)
		}
		if err := s.ForgetSFTPFile(ctx, unknown, "file/x"); err != nil {
			t.Fatalf("ForgetSFTPFile(unknown account) = %v, want success", err)
		}
		_, err := s.AcquireSFTPInboxLease(ctx, unknown, "inbox", "replica-a", time.Now(), time.Minute)
		wantErr(t, "AcquireSFTPInboxLease unknown account", err, store.ErrNotFound)
	})

	t.Run("Validation", func(t *testing.T) {
		for name, key := range map[string]string{
			"empty":         "",
			"overlong":      strings.Repeat("k", store.MaxSFTPKeyLen+1),
			"newline":       "file/a\nb",
			"nul":           "file/a\x00b",
			"invalid utf-8": "file/\xff",
		} {
			err := s.MarkSFTPFileDone(ctx, acc1.ID, key)
			wantErr(t, "MarkSFTPFileDone key "+name, err, store.ErrInvalid)
			var ve *store.ValidationError
			if !errors.As(err, &ve) || ve.Field != "key" {
				t.Errorf("MarkSFTPFileDone key %s: error %v does not name the field", name, err)
			}
			_, err = s.SFTPFileDone(ctx, acc1.ID, key)
			wantErr(t, "SFTPFileDone key "+name, err, store.ErrInvalid)
			wantErr(t, "ForgetSFTPFile key "+name, s.ForgetSFTPFile(ctx, acc1.ID, key), store.ErrInvalid)
			_, err = s.AcquireSFTPInboxLease(ctx, acc1.ID, key, "replica-a", time.Now(), time.Minute)
			wantErr(t, "AcquireSFTPInboxLease inbox "+name, err, store.ErrInvalid)
		}
		now := time.Now()
		_, err := s.AcquireSFTPInboxLease(ctx, acc1.ID, "inbox", "", now, time.Minute)
		wantErr(t, "AcquireSFTPInboxLease empty owner", err, store.ErrInvalid)
		_, err = s.AcquireSFTPInboxLease(ctx, acc1.ID, "inbox", "replica-a", now, 0)
		wantErr(t, "AcquireSFTPInboxLease zero ttl", err, store.ErrInvalid)
	})

	t.Run("Purge", func(t *testing.T) {
		tn := mustTenant(t, s, "Purge")
		a := sampleAccount(tn.ID)
		a.ConnectorID = "statusfile"
		acc := mustAccount(t, s, a)
		b := a
		b.Name = "other"
		other := mustAccount(t, s, b)
		for i := range 3 {
			if err := s.MarkSFTPFileDone(ctx, acc.ID, fmt.Sprintf("file/%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.MarkSFTPFileDone(ctx, other.ID, "file/0"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeSFTPFiles(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("PurgeSFTPFiles(an hour ago) = %d, %v; want nothing purged", n, err)
		}
		if done, _ := s.SFTPFileDone(ctx, acc.ID, "file/1"); !done {
			t.Fatal("a purge before every record removed one")
		}
		n, err := s.PurgeSFTPFiles(ctx, time.Now().Add(time.Hour))
		if err != nil || n < 4 {
			t.Fatalf("PurgeSFTPFiles(in an hour) = %d, %v; want at least this test's 4 records", n, err)
		}
		for _, id := range []string{acc.ID, other.ID} {
			if done, _ := s.SFTPFileDone(ctx, id, "file/0"); done {
				t.Fatalf("account %s still has a purged record", id)
			}
		}
	})

	t.Run("AccountDeletion", func(t *testing.T) {
		tn := mustTenant(t, s, "Deleted")
		a := sampleAccount(tn.ID)
		a.ConnectorID = "statusfile"
		acc := mustAccount(t, s, a)
		if err := s.MarkSFTPFileDone(ctx, acc.ID, "file/a"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.AcquireSFTPInboxLease(ctx, acc.ID, "inbox", "replica-a", time.Now(), time.Hour); err != nil || !ok {
			t.Fatalf("AcquireSFTPInboxLease = %v, %v", ok, err)
		}
		if err := s.DeleteAccount(ctx, tn.ID, acc.ID); err != nil {
			t.Fatal(err)
		}
		if done, err := s.SFTPFileDone(ctx, acc.ID, "file/a"); err != nil || done {
			t.Fatalf("a deleted account's record survives: %v, %v", done, err)
		}
		wantErr(t, "MarkSFTPFileDone deleted account", s.MarkSFTPFileDone(ctx, acc.ID, "file/b"), store.ErrNotFound)
	})

	t.Run("Leases", func(t *testing.T) {
		now := time.Now()
		const inbox = "/incoming/status"
		lease := func(acc, inbox, owner string, at time.Time, ttl time.Duration) bool {
			t.Helper()
			ok, err := s.AcquireSFTPInboxLease(ctx, acc, inbox, owner, at, ttl)
			if err != nil {
				t.Fatalf("AcquireSFTPInboxLease(%s, %s): %v", inbox, owner, err)
			}
			return ok
		}
		if !lease(acc1.ID, inbox, "replica-a", now, time.Minute) {
			t.Fatal("first claim of a free inbox failed")
		}
		if lease(acc1.ID, inbox, "replica-b", now.Add(30*time.Second), time.Minute) {
			t.Fatal("a second replica took a live lease")
		}
		if !lease(acc1.ID, inbox, "replica-a", now.Add(50*time.Second), time.Minute) {
			t.Fatal("the holder could not renew")
		}
		// Renewed to now+110s: still held at now+100s.
		if lease(acc1.ID, inbox, "replica-b", now.Add(100*time.Second), time.Minute) {
			t.Fatal("a renewed lease was taken before it ended")
		}
		// Another inbox of the same account, and the same inbox of another account, are separate.
		if !lease(acc1.ID, "/incoming/other", "replica-b", now, time.Minute) {
			t.Fatal("a lease on one inbox blocked another inbox of the account")
		}
		if !lease(acc2.ID, inbox, "replica-b", now, time.Minute) {
			t.Fatal("a lease on one account's inbox blocked another account's")
		}
		// Expired: another replica takes over, and the old holder cannot renew.
		if !lease(acc1.ID, inbox, "replica-b", now.Add(111*time.Second), time.Minute) {
			t.Fatal("an expired lease could not be taken over")
		}
		if lease(acc1.ID, inbox, "replica-a", now.Add(112*time.Second), time.Minute) {
			t.Fatal("the old holder renewed a lease another replica took over")
		}
		// Releasing by a non-holder does nothing; by the holder frees it at once.
		if err := s.ReleaseSFTPInboxLease(ctx, acc1.ID, inbox, "replica-a"); err != nil {
			t.Fatal(err)
		}
		if lease(acc1.ID, inbox, "replica-c", now.Add(113*time.Second), time.Minute) {
			t.Fatal("a release by a replica that did not hold the lease freed it")
		}
		if err := s.ReleaseSFTPInboxLease(ctx, acc1.ID, inbox, "replica-b"); err != nil {
			t.Fatal(err)
		}
		if !lease(acc1.ID, inbox, "replica-c", now.Add(114*time.Second), time.Minute) {
			t.Fatal("a released lease could not be taken")
		}
		if err := s.ReleaseSFTPInboxLease(ctx, acc1.ID, "/never/leased", "replica-c"); err != nil {
			t.Fatalf("releasing a lease never taken: %v, want success", err)
		}
	})

	t.Run("LeaseRace", func(t *testing.T) {
		now := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 12 {
			wg.Go(func() {
				ok, err := s.AcquireSFTPInboxLease(ctx, acc2.ID, "/race", fmt.Sprintf("replica-%d", i), now, time.Minute)
				if err != nil {
					t.Errorf("racing AcquireSFTPInboxLease: %v", err)
					return
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d replicas won a free lease at once, want 1", wins)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.MarkSFTPFileDone(cctx, acc1.ID, "file/cancelled"); !errors.Is(err, context.Canceled) {
			t.Fatalf("MarkSFTPFileDone with a cancelled context: %v, want context.Canceled", err)
		}
		if done, _ := s.SFTPFileDone(ctx, acc1.ID, "file/cancelled"); done {
			t.Fatal("a cancelled MarkSFTPFileDone was recorded")
		}
	})
}
