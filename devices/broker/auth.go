package broker

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ReservedClientIDPrefix starts the client ids of vakt's own drivers (vakt-zigbee2mqtt,
// vakt-rtl433). Only vakt's account may use them: MQTT lets a new connection with a
// client id take over the old one's session, so anyone else could kick vakt's drivers off
// the bus.
const ReservedClientIDPrefix = "vakt-"

// authHook accepts only the configured accounts, comparing in constant time, and lets
// each read and write only what its role allows.
type authHook struct {
	mqtt.HookBase
	accounts []Account
	rules    map[string]rules // by username
	gate     *gate
	log      *slog.Logger
	now      func() time.Time

	logins, topics, ids *tally
}

func newAuthHook(accounts []Account, topics Topics, g *gate, log *slog.Logger) (*authHook, error) {
	h := &authHook{accounts: accounts, rules: map[string]rules{}, gate: g, log: log, now: time.Now,
		logins: newTally(log, "MQTT login refused: bad username or password", tallyPeriod),
		topics: newTally(log, "MQTT topic refused to account", tallyPeriod),
		ids:    newTally(log, "MQTT connection refused: client id reserved for vakt", tallyPeriod),
	}
	for _, a := range accounts {
		if a.Role != RoleVakt && !a.Role.configurable() {
			return nil, fmt.Errorf("broker: account %q: role %q, want %s", a.Username, a.Role, roleList())
		}
		h.rules[a.Username] = topics.rules(a.Role)
	}
	return h, nil
}

func (h *authHook) ID() string { return "vakt-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	now := h.now()
	remote := host(cl.Net.Remote)
	if h.gate.blocked(remote, now) {
		h.logins.add(now, remote, "remote", cl.Net.Remote, "reason", refusedBackoff)
		return false
	}
	user, pass := pk.Connect.Username, pk.Connect.Password
	var acct *Account
	for i, a := range h.accounts {
		if subtle.ConstantTimeCompare(user, []byte(a.Username)) == 1 &&
			subtle.ConstantTimeCompare(pass, []byte(a.Password)) == 1 {
			acct = &h.accounts[i]
		}
	}
	if acct == nil {
		h.gate.failed(remote, now)
		h.logins.add(now, remote, "remote", cl.Net.Remote, "username", string(user))
		return false
	}
	if acct.Role != RoleVakt && strings.HasPrefix(cl.ID, ReservedClientIDPrefix) {
		h.ids.add(now, acct.Username+" "+cl.ID, "remote", cl.Net.Remote, "username", acct.Username, "client", cl.ID)
		return false
	}
	// A will is published by the broker when the client goes, past OnACLCheck: check it now.
	if pk.Connect.WillFlag && !h.rules[acct.Username].allows(pk.Connect.WillTopic, true) {
		h.topics.add(now, acct.Username+" will "+pk.Connect.WillTopic, "username", acct.Username, "client", cl.ID, "topic", pk.Connect.WillTopic, "access", "will")
		return false
	}
	return true
}

// OnACLCheck is asked for every publish (write) and every subscription and delivery (read).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	r, ok := h.rules[user]
	if ok && r.allows(topic, write) {
		return true
	}
	access := "subscribe"
	if write {
		access = "publish"
	}
	h.topics.add(h.now(), user+" "+access+" "+topic, "username", user, "client", cl.ID, "topic", topic, "access", access)
	return false
}
