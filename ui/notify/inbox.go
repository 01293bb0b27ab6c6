package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vakt/hub"
)

// Incoming is an SMS the modem received.
type Incoming struct {
	Index int    // the modem's storage index
	From  string // the sender's number
	Text  string
}

// ackWords are the replies that acknowledge an alarm, in either language, compared
// without case and surrounding punctuation.
var ackWords = []string{"ok", "okej", "kvittera", "kvitterat", "kvitterar", "sett", "ack", "seen"}

// isAck reports whether an SMS reply acknowledges an alarm.
func isAck(text string) bool {
	t := strings.ToLower(strings.Trim(strings.TrimSpace(text), ".!?,;: \t\r\n"))
	for _, w := range ackWords {
		if t == w {
			return true
		}
	}
	return false
}

// Receive reads the SMS the modem has received (AT+CMGL="ALL" in text mode, GSM
// character set) and deletes each one read (AT+CMGD), so a reply is acted on once. It
// shares the port with Send, one conversation at a time.
func (md *Modem) Receive(ctx context.Context) ([]Incoming, error) {
	md.mu.Lock()
	defer md.mu.Unlock()
	f, err := openSerial(md.cfg.Device, md.cfg.Baud)
	if err != nil {
		return nil, fmt.Errorf("sms: %w: %w", ErrModem, err)
	}
	defer f.Close()
	c := &atConn{f: f, timeout: md.cfg.Timeout.D(), ctx: ctx}
	if _, err := c.exchange("AT+CMGF=1\r", isOK); err != nil {
		return nil, fmt.Errorf("sms: AT+CMGF=1: %w", err)
	}
	if _, err := c.exchange("AT+CSCS=\"GSM\"\r", isOK); err != nil {
		return nil, fmt.Errorf("sms: AT+CSCS: %w", err)
	}
	answer, err := c.exchange("AT+CMGL=\"ALL\"\r", listDone)
	if err != nil {
		return nil, fmt.Errorf("sms: AT+CMGL: %w", err)
	}
	msgs := parseCMGL(answer)
	for _, m := range msgs {
		if _, err := c.exchange(fmt.Sprintf("AT+CMGD=%d\r", m.Index), isOK); err != nil {
			return msgs, fmt.Errorf("sms: AT+CMGD=%d: %w", m.Index, err)
		}
	}
	return msgs, nil
}

// parseCMGL reads a text-mode message list: a header per message,
// +CMGL: <index>,"<stat>","<from>",[<alpha>],["<scts>"], and its text on the lines after,
// up to the next header or the final OK. A reply "OK" is text: only the last OK ends it.
func parseCMGL(answer string) []Incoming {
	ls := strings.Split(strings.ReplaceAll(answer, "\r", ""), "\n")
	end := len(ls)
	for i := len(ls) - 1; i >= 0; i-- {
		if strings.TrimSpace(ls[i]) == "OK" {
			end = i
			break
		}
	}
	var out []Incoming
	var cur *Incoming
	for _, line := range ls[:end] {
		if strings.HasPrefix(line, "+CMGL:") {
			fields := splitCSV(strings.TrimSpace(strings.TrimPrefix(line, "+CMGL:")))
			cur = nil
			idx, err := strconv.Atoi(fields[0])
			if len(fields) < 3 || err != nil {
				continue
			}
			out = append(out, Incoming{Index: idx, From: fields[2]})
			cur = &out[len(out)-1]
			continue
		}
		if cur != nil {
			cur.Text += line + "\n"
		}
	}
	for i := range out {
		out[i].Text = strings.TrimSpace(decodeGSM([]byte(out[i].Text)))
	}
	return out
}

// listDone: a message list is complete at an OK that is not a message's text, that is,
// not the line right after a +CMGL header.
func listDone(a string) bool {
	ls := lines(a)
	n := len(ls)
	return n > 0 && ls[n-1] == "OK" && (n < 2 || !strings.HasPrefix(ls[n-2], "+CMGL:"))
}

// splitCSV splits an AT answer's comma-separated fields, unquoting quoted ones.
func splitCSV(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	return append(out, b.String())
}

// samePhone compares two phone numbers, the international prefix written as + or 00.
func samePhone(a, b string) bool {
	norm := func(s string) string {
		s = strings.NewReplacer(" ", "", "-", "").Replace(s)
		if strings.HasPrefix(s, "00") {
			s = "+" + s[2:]
		}
		return s
	}
	return a != "" && norm(a) == norm(b)
}

// inboxLoop reads the modem's received SMS every sms.poll, and at once when the modem
// announced one, and acts on the replies.
func (n *Notifier) inboxLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.SMS.Poll.D())
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.modem.incoming:
		}
		msgs, err := n.modem.Receive(ctx)
		if err != nil && ctx.Err() == nil {
			if !failing {
				n.log.Warn("read received SMS", "error", err)
			}
			failing = true
		} else {
			failing = false
		}
		for _, m := range msgs {
			n.smsReply(ctx, m)
		}
	}
}

// smsReply acts on one received SMS: "OK" (or KVITTERA …) from a recipient's number marks
// the alarms of that user's areas seen, which stops their escalation.
func (n *Notifier) smsReply(ctx context.Context, m Incoming) {
	n.mu.Lock()
	user := ""
	for _, d := range n.dests {
		if d.channel == ChannelSMS && samePhone(d.to, m.From) {
			user = d.rcpt.User
		}
	}
	n.mu.Unlock()
	switch {
	case user == "":
		n.log.Warn("SMS from a number no recipient has: ignored", "from", m.From)
	case !isAck(m.Text):
		n.log.Info("SMS reply not understood: reply OK to acknowledge an alarm", "user", user, "text", m.Text)
	default:
		n.seen(ctx, user, 0, hub.HowSMS, "SMS from "+m.From)
	}
}

// pushoverAck is an alarm acknowledged in Pushover: by the user whose key acknowledged it,
// or else the user it was sent to.
func (n *Notifier) pushoverAck(key string, area int, r Receipt) {
	n.mu.Lock()
	user := ""
	for _, d := range n.dests {
		if d.channel == ChannelPushover && (d.to == r.AcknowledgedBy || (user == "" && d.to == key)) {
			user = d.rcpt.User
		}
	}
	n.mu.Unlock()
	if user == "" {
		n.log.Warn("alarm acknowledged in Pushover by a key no recipient has", "by", r.AcknowledgedBy)
		return
	}
	note := "Pushover"
	if r.AcknowledgedByDevice != "" {
		note += " on " + r.AcknowledgedByDevice
	}
	n.seen(context.Background(), user, area, hub.HowPushover, note)
}

// seen tells the hub that user has seen the alarms of area (0: all of theirs), and wakes
// the waiting escalations, which then find it in the log and stop.
func (n *Notifier) seen(ctx context.Context, user string, area int, how hub.Method, note string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res := n.hub.Do(ctx, hub.Input{Kind: hub.InAlarmSeen, Area: area, User: user, How: how, Path: note})
	switch {
	case res.Err == nil:
		n.log.Info("alarm acknowledged", "user", user, "how", how.String(), "note", note)
	case errors.Is(res.Err, hub.ErrNothingToAck):
		n.log.Info("acknowledgement with no alarm to acknowledge", "user", user, "how", how.String())
	default:
		n.log.Warn("acknowledgement refused", "user", user, "how", how.String(), "error", res.Err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.dests {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}
