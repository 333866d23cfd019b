package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/carrierhub/hub/engine/events"
)

// pgTestStore opens the Postgres store in a fresh database on the server at
// HUB_POSTGRES_URL, skipping the test when it is unset.
func pgTestStore(t *testing.T) (*sqlStore, string) {
	t.Helper()
	admin := os.Getenv("HUB_POSTGRES_URL")
	if admin == "" {
		t.Skip("HUB_POSTGRES_URL is not set; run `source .ci/postgres.sh` to start a throw-away Postgres and set it")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("hub_outbox_%x", b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := Open(t.Context(), Config{PostgresURL: u.String(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*sqlStore), u.String()
}

// waitForLockWaiters polls until n sessions of the database wait on a lock.
func waitForLockWaiters(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	for {
		var waiting int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if t.Context().Err() != nil {
			t.Fatal("gave up waiting for a blocked session")
		}
	}
}

// TestPostgresSequenceSkipsLateCommit shows the hazard the outbox avoids: with a
// plain sequence, the transaction holding the lower value commits last, and a reader
// that already moved its cursor past the higher value never sees it.
func TestPostgresSequenceSkipsLateCommit(t *testing.T) {
	s, u := pgTestStore(t)
	ctx := t.Context()
	pg := s.db.(*postgresBackend).pool
	if _, err := pg.Exec(ctx, `CREATE TABLE naive (seq BIGSERIAL PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	a, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seqA, seqB int64
	if err := txA.QueryRow(ctx, `INSERT INTO naive (v) VALUES ('a') RETURNING seq`).Scan(&seqA); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(ctx, `INSERT INTO naive (v) VALUES ('b') RETURNING seq`).Scan(&seqB); err != nil {
		t.Fatal(err)
	}
	var cursor int64
	if err := pg.QueryRow(ctx, `SELECT max(seq) FROM naive WHERE seq > 0`).Scan(&cursor); err != nil {
		t.Fatal(err)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var missed int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM naive WHERE seq > $1`, cursor).Scan(&missed); err != nil {
		t.Fatal(err)
	}
	if !(seqA < seqB && cursor == seqB && missed == 0) {
		t.Fatalf("expected the hazard: a=%d b=%d cursor=%d missed-after-cursor=%d", seqA, seqB, cursor, missed)
	}
	t.Logf("plain sequence: row %d committed after the reader moved to %d and is never read", seqA, cursor)
}

// TestPostgresOutboxCommitOrder interleaves two appending transactions: A allocates
// its seq first and commits last. The outbox makes B wait for A's commit before it can
// allocate, so seqs follow commit order and a reader following its cursor sees both.
func TestPostgresOutboxCommitOrder(t *testing.T) {
	s, u := pgTestStore(t)
	ctx := t.Context()
	watch, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	tn, err := s.CreateTenant(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(subject string) []events.Event {
		return []events.Event{{Type: events.PODReceived, TenantID: tn.ID, Subject: subject, Data: json.RawMessage(`{}`)}}
	}

	allocated, commitA, doneA := make(chan events.Seq), make(chan struct{}), make(chan error, 1)
	go func() {
		doneA <- s.db.inTx(ctx, func(q querier) error {
			got, err := s.appendEvents(ctx, q, mk("A"))
			if err != nil {
				return err
			}
			allocated <- got[0].Seq
			<-commitA
			return nil
		})
	}()
	seqA := <-allocated

	doneB := make(chan []events.Stored, 1)
	go func() {
		got, err := s.AppendEvents(ctx, mk("B"))
		if err != nil {
			t.Error(err)
		}
		doneB <- got
	}()
	waitForLockWaiters(t, watch, 1) // B is queued behind A's counter lock

	var cursor events.Seq
	page, err := s.ReadEvents(ctx, cursor, 10)
	if err != nil || len(page) != 0 {
		t.Fatalf("while A is open the reader sees %v, %v; want nothing", page, err)
	}
	close(commitA)
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	gotB := <-doneB
	if len(gotB) != 1 || gotB[0].Seq <= seqA {
		t.Fatalf("B got seq %v; want one after A's %d", gotB, seqA)
	}
	// A reader that saw A alone, then moves on, still finds B.
	page, _ = s.ReadEvents(ctx, cursor, 10)
	if len(page) != 2 || page[0].Subject != "A" || page[1].Subject != "B" {
		t.Fatalf("reader sees %v; want A then B", page)
	}
}
