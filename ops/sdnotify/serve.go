package sdnotify

import (
	"context"
	"log/slog"
	"time"
)

// Serve is vakt's side of a Type=notify unit with a watchdog, run as one of its parts once
// the state is restored and the others are started. It says Ready with status (what
// `systemctl status` shows), then, while $WATCHDOG_USEC asks for it, feeds the watchdog at
// half that interval, but only when alive (the hub's Alive) answers within the interval: a
// stuck hub loop starves the watchdog and systemd restarts vakt. Meanwhile the status says
// the loop is not answering. When ctx ends it says Stopping. Outside systemd it only waits.
// A bad environment or an unreachable socket is logged, never fatal: the alarm runs on.
func Serve(ctx context.Context, alive func(context.Context) error, status string, logger *slog.Logger) error {
	n, err := FromEnv()
	if err != nil {
		logger.Warn("systemd notify: not telling systemd anything", "error", err)
	}
	every, watchdog, err := WatchdogInterval()
	if err != nil {
		logger.Warn("systemd watchdog: not fed", "error", err)
	}
	if n == nil {
		<-ctx.Done()
		return nil
	}
	send := func(states ...string) {
		if err := n.Notify(states...); err != nil {
			logger.Warn("systemd notify", "error", err)
		}
	}
	send(Ready, "STATUS="+status)
	defer send(Stopping, "STATUS=stopping")
	if !watchdog {
		<-ctx.Done()
		return nil
	}
	logger.Info("systemd watchdog: fed while the hub loop answers", "every", every, "socket", n.Socket())
	t := time.NewTicker(every)
	defer t.Stop()
	var stuckSince time.Time // zero while the loop answers
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, every)
		err := alive(actx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && stuckSince.IsZero():
			send(Watchdog)
		case err == nil:
			logger.Info("hub loop answers again: watchdog fed", "stuck", time.Since(stuckSince).Round(time.Millisecond))
			stuckSince = time.Time{}
			send(Watchdog, "STATUS="+status)
		default:
			if stuckSince.IsZero() {
				stuckSince = time.Now().Add(-every)
				logger.Error("hub loop not answering: watchdog not fed, systemd will restart vakt", "error", err)
			}
			send("STATUS=hub loop not answering since " + stuckSince.Format(time.TimeOnly) + ": watchdog not fed")
		}
	}
}
