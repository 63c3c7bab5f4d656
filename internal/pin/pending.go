package pin

import (
	"errors"
	"fmt"
	"io/fs"
)

// PendingPath is where the gateway keeps the definitions it saw but did
// not trust (changed since they were pinned, never pinned under a strict
// lockfile, or judged poisoned), so that `mcpwarden pin approve` can
// accept them without listing the server again: the lockfile's path plus
// ".pending". The file has the lockfile's format.
func PendingPath(lockfile string) string { return lockfile + ".pending" }

// ReadPending loads the pending definitions of a lockfile; a missing file
// is an empty lock.
func ReadPending(lockfile string) (*Lock, error) {
	l, err := Read(PendingPath(lockfile))
	if errors.Is(err, fs.ErrNotExist) {
		return NewLock(), nil
	}
	return l, err
}

// RecordPending stores what a server currently offers as pending for
// lockfile, replacing what was pending for that server. It is written
// atomically.
func RecordPending(lockfile string, cur *ServerLock) error {
	p, err := ReadPending(lockfile)
	if err != nil {
		// A corrupt pending file holds nothing anyone approved: start over.
		p = NewLock()
	}
	if old, ok := p.Servers[cur.Key]; ok && len(Compare(old, cur)) == 0 && old.Identity == cur.Identity {
		return nil
	}
	p.Servers[cur.Key] = cur.clone()
	return Write(PendingPath(lockfile), p)
}

// ApprovePending accepts, into the lockfile, the pending definitions that
// target names ("SERVER" or "SERVER/ITEM", as for [Lock.Approve]) and
// returns the changes accepted, the diff to show. found is false when
// nothing is pending for the server, so the caller can list it instead.
func ApprovePending(lockfile, target string) (changes []Change, found bool, err error) {
	pending, err := ReadPending(lockfile)
	if err != nil {
		return nil, false, err
	}
	server := target
	cur, ferr := pending.Find(server)
	for i := len(target) - 1; ferr != nil && i > 0; i-- {
		if target[i] == '/' {
			server = target[:i]
			cur, ferr = pending.Find(server)
		}
	}
	if ferr != nil {
		return nil, false, nil
	}
	lock, err := Read(lockfile)
	if errors.Is(err, fs.ErrNotExist) {
		lock = NewLock()
	} else if err != nil {
		return nil, true, err
	}
	changes, err = lock.Approve(target, cur)
	if err != nil {
		return nil, true, err
	}
	if err := Write(lockfile, lock); err != nil {
		return nil, true, fmt.Errorf("pin: approve %s: %w", target, err)
	}
	return changes, true, nil
}
