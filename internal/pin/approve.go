package pin

import (
	"fmt"
	"strings"
)

// Approve accepts the current definitions of a server, or of one of its
// items, into the lock, and returns the changes it accepted (the diff to
// show the user). target is "SERVER" or "SERVER/ITEM", where SERVER is the
// declared name, the lock key or the identity of cur, and ITEM names a
// tool, or else a prompt or resource template. Approving a whole server
// also accepts a new identity (version); approving one item leaves the
// rest of the entry as it was. An item gone from cur is removed.
func (l *Lock) Approve(target string, cur *ServerLock) ([]Change, error) {
	if cur == nil || cur.Key == "" {
		return nil, fmt.Errorf("pin: approve %q: no current definitions", target)
	}
	item, whole := "", false
	for _, id := range []string{cur.Key, cur.Identity, cur.Name} {
		if id == "" {
			continue
		}
		if target == id {
			whole = true
			break
		}
		if rest, ok := strings.CutPrefix(target, id+"/"); ok && rest != "" {
			item = rest
			break
		}
	}
	if !whole && item == "" {
		return nil, fmt.Errorf("pin: approve %q: does not name server %q (%s)", target, cur.Name, cur.Key)
	}
	old := l.Servers[cur.Key]
	changes := Compare(old, cur)
	if whole {
		approved := cur.clone()
		for _, m := range []map[string]Entry{approved.Tools, approved.Prompts, approved.ResourceTemplates} {
			for k, e := range m {
				e.Approved = true
				m[k] = e
			}
		}
		if approved.Instructions != nil {
			approved.Instructions.Approved = true
		}
		l.Put(approved)
		return changes, nil
	}
	next := &ServerLock{Key: cur.Key, Name: cur.Name, Identity: cur.Identity, Pinned: cur.Pinned,
		Tools: map[string]Entry{}, Prompts: map[string]Entry{}, ResourceTemplates: map[string]Entry{}}
	if old != nil {
		next = old.clone()
	}
	var kind ItemKind
	for _, g := range []struct {
		kind     ItemKind
		old, cur map[string]Entry
	}{{KindTool, next.Tools, cur.Tools}, {KindPrompt, next.Prompts, cur.Prompts}, {KindResourceTemplate, next.ResourceTemplates, cur.ResourceTemplates}} {
		e, inCur := g.cur[item]
		_, inOld := g.old[item]
		if !inCur && !inOld {
			continue
		}
		kind = g.kind
		if inCur {
			e.Approved = true
			g.old[item] = e
		} else {
			delete(g.old, item)
		}
		break
	}
	if kind == "" {
		return nil, fmt.Errorf("pin: approve %q: server %q has no tool, prompt or resource template %q", target, cur.Name, item)
	}
	l.Put(next)
	var accepted []Change
	for _, c := range changes {
		if c.Item == kind && c.Name == item {
			accepted = append(accepted, c)
		}
	}
	return accepted, nil
}
