package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"vakt/devices/mqttclient"
	"vakt/uplink"
)

// broker logs in to the sensor bus's broker with every account vakt knows: its own (from
// the credentials file or mqtt.url) and the configured ones of the embedded broker.
func (d *doctor) broker(ctx context.Context) []Check {
	m := d.cfg.MQTT
	if m.External != nil {
		return []Check{d.login("MQTT broker "+m.External.URL, *m.External, "vakt", false)}
	}
	what := "embedded MQTT broker"
	if m.Listen != "" {
		what += " " + m.Listen
	}
	if m.Embedded == nil {
		c := Check{What: what, Status: Warn, Detail: "no credentials file in the data directory: vakt has not run here yet"}
		c.Fix = "start vakt once; it writes " + d.cfg.DataDir + "/mqtt-credentials"
		return []Check{c}
	}
	if !d.running {
		// Without vakt there is no broker: say so, instead of a failed login.
		c := Check{What: what, Status: Warn, Detail: "not running, because vakt is stopped"}
		if conn, err := net.DialTimeout("tcp", brokerAddr(m.Embedded.URL), d.cfg.Timeout); err == nil {
			conn.Close()
			c.Detail = "vakt is stopped, but something else listens on " + brokerAddr(m.Embedded.URL)
			c.Status, c.Fix = Fail, "vakt's broker cannot start there: stop the other broker or set mqtt.broker.listen"
			return []Check{c}
		}
		c.Fix = "start vakt (systemctl start vakt), then run vakt doctor again to check the accounts"
		return []Check{c}
	}
	out := []Check{d.login(what, *m.Embedded, "vakt", true)}
	for _, a := range m.Accounts {
		cfg := *m.Embedded
		cfg.Username, cfg.Password = a.Username, a.Password
		out = append(out, d.login(what, cfg, a.Username, true))
	}
	return out
}

// brokerAddr is the host:port of a broker URL.
func brokerAddr(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}

// login connects to the broker with cfg's account and disconnects, under a client id of
// its own so that it never takes a real client's session over.
func (d *doctor) login(what string, cfg mqttclient.Config, account string, embedded bool) Check {
	c := Check{What: what}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		return c
	}
	tls := false
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts", "tls":
		u.Scheme, tls = "ssl", true
	case "ssl":
		tls = true
	}
	id := make([]byte, 4)
	rand.Read(id)
	o := paho.NewClientOptions().AddBroker(u.String()).SetClientID("doctor-" + hex.EncodeToString(id)).
		SetUsername(cfg.Username).SetPassword(cfg.Password).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(d.cfg.Timeout).SetCleanSession(true)
	if tls {
		tc, err := mqttclient.TLSConfig(cfg, "mqtt")
		if err != nil {
			c.Status, c.Detail = Fail, err.Error()
			return c
		}
		o.SetTLSConfig(tc)
	}
	cl := paho.NewClient(o)
	start := time.Now()
	tok := cl.Connect()
	if !tok.WaitTimeout(d.cfg.Timeout + time.Second) {
		c.Status, c.Detail = Fail, fmt.Sprintf("account %s: no answer in %s", account, d.cfg.Timeout)
		c.Fix = "check the address and the firewall"
		return c
	}
	if err := tok.Error(); err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("account %s refused: %v", account, err)
		switch {
		case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
			if embedded && account == "vakt" {
				c.Fix = "the credentials file does not match the running vakt: restart vakt, which writes it again"
			} else if embedded {
				c.Fix = "check mqtt.broker.accounts: the password (or password_env) of " + account
			} else {
				c.Fix = "check mqtt.username and mqtt.password"
			}
		default:
			c.Fix = "check that the broker runs and that the address is right"
		}
		return c
	}
	took := time.Since(start)
	cl.Disconnect(100)
	c.Detail = fmt.Sprintf("account %s logs in (%s)", account, round(took))
	return c
}

// station sends one NULL poll on each station path and reports the answer and round trip.
// While vakt runs the poll is left to it: the poll must carry the sequence number of the
// last event the receiver acknowledged, which only the store knows, and vakt holds it.
func (d *doctor) station(ctx context.Context) []Check {
	if len(d.cfg.Uplink.Receivers) == 0 {
		return []Check{{What: "station", Detail: "no receiver configured (uplink.receivers)"}}
	}
	if d.running {
		var out []Check
		for _, rc := range d.cfg.Uplink.Receivers {
			out = append(out, Check{What: "station " + rc.Name,
				Detail: "not polled from here while vakt runs: vakt polls each path itself and raises an uplink fault when one fails (the panel shows each path's last answer); stop vakt to poll from here"})
		}
		return out
	}
	cursors := d.cursors
	probes, err := uplink.Probe(ctx, d.cfg.Uplink, func(receiver string) int {
		return uplink.PollSeq(cursors[uplink.CursorName(receiver)])
	}, d.cfg.Timeout)
	if err != nil {
		return []Check{{What: "station", Status: Fail, Detail: err.Error(), Fix: "fix uplink.receivers in the config"}}
	}
	var out []Check
	for _, p := range probes {
		c := Check{What: fmt.Sprintf("station %s/%s (%s %s)", p.Receiver, p.Path, p.Network, p.Addr)}
		if p.ClockOffset != 0 && p.ClockOffset.Abs() > d.stationClock.Abs() {
			d.stationClock, d.stationName = p.ClockOffset, p.Receiver+"/"+p.Path
		}
		switch {
		case p.Acked && p.ClockOffset != 0:
			c.Status = Warn
			c.Detail = fmt.Sprintf("NULL poll acknowledged in %s, after the receiver refused our time (NAK): its clock is %s", round(p.RTT), aheadBehind(p.ClockOffset))
			c.Fix = "synchronise vakt's clock (see the clock line); every report costs a round trip more until then"
		case p.Acked:
			c.Detail = fmt.Sprintf("NULL poll acknowledged in %s", round(p.RTT))
		case errors.Is(p.Err, uplink.ErrRefusedPoll):
			c.Status, c.Detail = Fail, p.Err.Error()
			c.Fix = "ask the station which account and key it has for this installation"
		default:
			c.Status, c.Detail = Fail, "no acknowledgement: "+p.Err.Error()
			c.Fix = "check the receiver's address and port, the route over this path's interface (local_addr) and the firewall"
		}
		out = append(out, c)
	}
	return out
}

// homekit checks that the HomeKit bridge's port is free, or held by vakt itself.
func (d *doctor) homekit() []Check {
	if d.cfg.HomeKit == nil {
		return []Check{{What: "HomeKit", Detail: "not configured"}}
	}
	listen := d.cfg.HomeKit.Listen
	c := Check{What: "HomeKit port"}
	if listen == "" {
		c.Detail = "any free port (homekit.listen is empty)"
		return []Check{c}
	}
	c.What += " " + listen
	ln, err := net.Listen("tcp", listen)
	switch {
	case err == nil:
		ln.Close()
		c.Detail = "free"
	case d.running:
		c.Detail = "in use, by the running vakt's bridge (vakt holds the store)"
	default:
		c.Status, c.Detail = Fail, "taken while vakt is stopped: "+err.Error()
		c.Fix = "stop the program that listens there (ss -ltnp) or set homekit.listen to a free port"
	}
	return []Check{c}
}
