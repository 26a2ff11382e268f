package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Usage counts wait in memory, per key and month of the request (so a
// request just before a month ends counts in that month even when written
// after it); see the package documentation.

type usageKey struct{ id, month string }

type counts struct {
	requests, thumbnails int64
	last                 time.Time
}

func month(t time.Time) string { return t.UTC().Format("2006-01") }

// Record adds requests and billed thumbnails (for AST: answers with
// Exists=true, as AST billed) to key id's usage this month. It only counts
// in memory; the counts reach the database within a second.
func (s *Store) Record(ctx context.Context, id string, requests, thumbnails int64) error {
	switch {
	case !ValidID(id):
		return errMalformed
	case requests < 0 || thumbnails < 0:
		return invalidf("key %s: negative usage %d requests, %d thumbnails", id, requests, thumbnails)
	case requests == 0 && thumbnails == 0:
		return nil
	}
	now := s.now()
	k := usageKey{id, month(now)}
	s.umu.Lock()
	defer s.umu.Unlock()
	if s.closed {
		return fmt.Errorf("key %s: usage recorded after Close", id)
	}
	c := s.pending[k]
	if c == nil {
		c = &counts{}
		s.pending[k] = c
	}
	c.requests += requests
	c.thumbnails += thumbnails
	if now.After(c.last) {
		c.last = now
	}
	return nil
}

func (s *Store) flusher() {
	defer close(s.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s.flush(ctx) // on failure the counts wait for the next tick
			cancel()
		}
	}
}

// flush writes the pending counts in one transaction.
func (s *Store) flush(ctx context.Context) error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.umu.Lock()
	batch := s.pending
	s.pending = map[usageKey]*counts{}
	s.umu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Usage of a key deleted meanwhile (none are, but a hand-edited
		// database) is dropped rather than failing every later flush.
		st, err := tx.PrepareContext(ctx, `INSERT INTO api_usage (id, month, requests, thumbnails, last_used)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)
			ON CONFLICT (id, month) DO UPDATE SET requests = requests + excluded.requests,
				thumbnails = thumbnails + excluded.thumbnails, last_used = max(last_used, excluded.last_used)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for k, c := range batch {
			if _, err := st.ExecContext(ctx, k.id, k.month, c.requests, c.thumbnails, c.last.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.umu.Lock()
		for k, c := range batch {
			p := s.pending[k]
			if p == nil {
				s.pending[k] = c
				continue
			}
			p.requests += c.requests
			p.thumbnails += c.thumbnails
			if c.last.After(p.last) {
				p.last = c.last
			}
		}
		s.umu.Unlock()
		return fmt.Errorf("record key usage: %w", err)
	}
	return nil
}

// Usage returns key id's usage this month, after writing the pending
// counts.
func (s *Store) Usage(ctx context.Context, id string) (Usage, error) {
	if !ValidID(id) {
		return Usage{}, errMalformed
	}
	if err := s.flush(ctx); err != nil {
		return Usage{}, err
	}
	u := Usage{Month: month(s.now())}
	var last sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(u.requests, 0), COALESCE(u.thumbnails, 0),
			(SELECT max(last_used) FROM api_usage WHERE id = k.id)
		FROM api_keys k LEFT JOIN api_usage u ON u.id = k.id AND u.month = ?
		WHERE k.id = ?`, u.Month, id).Scan(&u.Requests, &u.Thumbnails, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return Usage{}, fmt.Errorf("key %s: %w", id, ErrUnknown)
	}
	if err != nil {
		return Usage{}, fmt.Errorf("key %s: usage: %w", id, err)
	}
	if last.Valid {
		u.LastUsed = time.Unix(0, last.Int64).UTC()
	}
	return u, nil
}

// OverQuota reports whether key id has used up its quota of billed
// thumbnails this month (never, for a key without a quota). It counts the
// pending usage too, without writing it.
func (s *Store) OverQuota(ctx context.Context, id string) (bool, error) {
	if !ValidID(id) {
		return false, errMalformed
	}
	m := month(s.now())
	// Held across the query and the look at pending, so that no flush
	// moves counts between the two.
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	var quota, used int64
	err := s.quota.QueryRowContext(ctx, m, id).Scan(&quota, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("key %s: %w", id, ErrUnknown)
	}
	if err != nil {
		return false, fmt.Errorf("key %s: quota: %w", id, err)
	}
	if quota == 0 {
		return false, nil
	}
	s.umu.Lock()
	if c := s.pending[usageKey{id, m}]; c != nil {
		used += c.thumbnails
	}
	s.umu.Unlock()
	return used >= quota, nil
}
