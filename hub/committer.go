package hub

import (
	"fmt"
	"time"
)

// The run loop never waits for the disk (DESIGN §3 and §6): it hands each commit to the
// committer, a goroutine of its own, and keeps stepping inputs and handing outputs out
// while the commit is written. One commit is in flight at a time; whatever the loop decides
// meanwhile piles up and goes to the disk in one transaction when the commit in flight is
// done (group commit). Replies and committed snapshots and events wait for the commit that
// holds them, so nothing that leaves the house can still be lost.

// commitJob is one group commit: an immutable snapshot of the state (a deep copy) and
// every event decided since the last job, in order. The loop owns a job until it hands it
// to the committer and again once it comes back; the committer only reads it and sets err.
type commitJob struct {
	snap    *Snapshot
	inst    *Installation // set when the installation changed since the last commit
	events  []Event
	effects []Effect
	err     error
}

// waiter is a reply that waits for a commit.
type waiter struct {
	reply chan Result
	res   Result
}

// committer writes the jobs it is handed, one at a time, and hands each back.
func (h *Hub) committer(jobs <-chan *commitJob, done chan<- *commitJob) {
	for job := range jobs {
		start := time.Now()
		job.err = h.commit(job.inst, &job.snap.State, job.events)
		if h.onCommit != nil {
			h.onCommit(time.Since(start), len(job.events), job.err)
		}
		done <- job
	}
}

// handOff hands everything not yet durable to the committer, unless a commit is in flight
// or a failed commit's back-off has not run out (force ignores the back-off). A zone state
// that changed nothing reportable goes along when its time has come (force: at once).
func (h *Hub) handOff(now time.Time, force bool) {
	if h.zonesDirty && !h.dirty && (force || !now.Before(h.zonesDue)) {
		h.dirty = true
	}
	if !h.dirty || h.inflight != nil {
		return
	}
	if h.commitErr != nil && !force && now.Before(h.retryAt) {
		return
	}
	job := &commitJob{snap: h.snapshot(now), events: h.unsaved, effects: h.pendingEffects}
	if h.instDirty {
		job.inst = job.snap.Installation
	}
	h.unsaved, h.pendingEffects = nil, nil
	h.dirty, h.instDirty, h.zonesDirty = false, false, false
	h.inflight = job
	h.inflightReplies, h.heldReplies = h.heldReplies, nil
	h.jobs <- job
}

// answer replies at once when everything the request saw is durable, and otherwise holds
// the reply for the commit that makes it so. While the disk fails it replies at once with
// ErrNotDurable: the command was carried out, and the caller must not wait out the back-off.
func (h *Hub) answer(w waiter) {
	switch {
	case h.dirty && h.inflight == nil:
		// handOff hands everything unless the disk fails and the back-off runs.
		h.replyNotDurable(w)
	case h.dirty:
		h.heldReplies = append(h.heldReplies, w)
	case h.inflight != nil:
		h.inflightReplies = append(h.inflightReplies, w)
	default:
		w.reply <- w.res
	}
}

func (h *Hub) replyNotDurable(w waiter) {
	if w.res.Err == nil {
		w.res.Err = fmt.Errorf("%w: %w", ErrNotDurable, h.commitErr)
	}
	w.reply <- w.res
}

// finish takes a job back from the committer. When it is durable, it publishes the
// committed snapshot with the job's events and answers the replies that waited for it;
// the first success after failures restores the disk fault. When it failed, its events go
// back in front of what was decided since, in order, and the hub enters or stays in
// degraded mode (commitFailed). It reports whether the job is durable.
func (h *Hub) finish(job *commitJob) bool {
	now := h.now()
	h.inflight = nil
	replies := h.inflightReplies
	h.inflightReplies = nil
	// Outside a turn: internalStep below must not hand the last turn's events out again.
	h.events, h.effects = h.events[:0], h.effects[:0]
	if job.err != nil {
		h.unsaved = append(job.events, h.unsaved...)
		h.pendingEffects = append(job.effects, h.pendingEffects...)
		h.dirty = true
		h.instDirty = h.instDirty || job.inst != nil
		h.commitFailed(now, job.err)
		for _, w := range replies {
			h.replyNotDurable(w)
		}
		for _, w := range h.heldReplies {
			h.replyNotDurable(w)
		}
		h.heldReplies = nil
		return false
	}
	snap, effects := job.snap, job.effects
	if !h.dirty && h.zonesDirty {
		// Nothing decided since waits for the disk, only a zone's open/closed state,
		// which is shown at once: publish the newest.
		snap, effects = h.snapshot(now), append(effects, h.pendingEffects...)
		h.pendingEffects = nil
	}
	// Publish first, so that whoever gets a reply reads a snapshot that includes it.
	h.publishSnapshot(snap, job.events, effects)
	for _, w := range replies {
		w.reply <- w.res
	}
	if h.commitErr != nil {
		h.log.Info("commits succeed again; every event kept in memory is durable", "events", len(job.events))
		h.commitErr, h.backoff = nil, 0
		h.durability.Store(&Durability{})
		if h.raisedDiskFault {
			h.raisedDiskFault = false
			h.internalStep(now, Input{Kind: InDiskFault, Active: false, Path: "commits succeed again"})
		}
	}
	return true
}

// awaitCommit waits for the commit in flight, if any, and reports whether it is durable.
func (h *Hub) awaitCommit() bool {
	if h.inflight == nil {
		return true
	}
	return h.finish(<-h.committed)
}
