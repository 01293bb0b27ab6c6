package web

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"
)

// Away from home: vakt never opens a port to the internet. The family reaches it from
// abroad through a VPN into the house, or HomeKit through an Apple home hub. For the VPN,
// an admin can have vakt write a phone's WireGuard configuration for the home's WireGuard
// server (on the router, usually): vakt makes the phone's key pair, shows the phone's
// configuration once (text and QR code, for the WireGuard app) and the lines to add on the
// server. The phone's private key is not kept anywhere.

// defaultTunnelAddress is the phone's address inside the tunnel unless the admin gives one.
const defaultTunnelAddress = "10.6.0.2/32"

// wireguardForm is what the admin enters: the home's WireGuard server and the phone's
// address in the tunnel; Reach is what the phone may reach through it (vakt's own LAN
// addresses unless given).
type wireguardForm struct {
	Endpoint  string `json:"endpoint"`
	ServerKey string `json:"server_public_key"`
	Address   string `json:"address"`
	DNS       string `json:"dns"`
	Reach     string `json:"allowed_ips"`
	Name      string `json:"name"`
}

// wireguardConfig is the answer: the phone's configuration (with its private key) and the
// peer to add on the server.
type wireguardConfig struct {
	Phone  string `json:"phone_config"`
	Server string `json:"server_peer"`
}

type awayView struct {
	Form   wireguardForm
	Error  string
	Config *wireguardConfig
	QR     template.HTML
}

func (s *Server) awayPage(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "away", page{Title: translate(lang(c), "away"), Data: awayView{Form: wireguardForm{Address: defaultTunnelAddress, Reach: strings.Join(lanReach(), ", ")}}})
}

// wireguardPost makes a phone's WireGuard configuration; the page shows it once, never
// cached.
func (s *Server) wireguardPost(c *fiber.Ctx) error {
	var f wireguardForm
	if isAPI(c) {
		if err := body(c, &f); err != nil {
			return err
		}
	} else {
		f = wireguardForm{Endpoint: c.FormValue("endpoint"), ServerKey: c.FormValue("server_public_key"), Address: c.FormValue("address"),
			DNS: c.FormValue("dns"), Reach: c.FormValue("allowed_ips"), Name: c.FormValue("name")}
	}
	cfg, field, err := makeWireguard(f)
	if err != nil {
		msg := translate(lang(c), "wg_bad_"+field) + ": " + err.Error()
		if isAPI(c) {
			return c.Status(http.StatusBadRequest).JSON(errorBody{Error: msg, Code: "bad_" + field})
		}
		return s.render(c, http.StatusBadRequest, "away", page{Title: translate(lang(c), "away"), Data: awayView{Form: f, Error: msg}})
	}
	s.log.Info("WireGuard configuration made for a phone", "user", sess(c).User, "phone", f.Name, "endpoint", f.Endpoint)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if isAPI(c) {
		return c.JSON(cfg)
	}
	qr, err := qrSVG(cfg.Phone, translate(lang(c), "wg_qr"))
	if err != nil {
		return err
	}
	f.ServerKey = strings.TrimSpace(f.ServerKey)
	return s.render(c, http.StatusOK, "away", page{Title: translate(lang(c), "away"), Data: awayView{Form: f, Config: &cfg, QR: qr}})
}

// makeWireguard checks the form and makes the phone's key pair and both configurations.
// A refusal names the field (endpoint, server_public_key, address, dns, allowed_ips).
func makeWireguard(f wireguardForm) (wireguardConfig, string, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(f.Endpoint))
	if err != nil || host == "" || strings.ContainsAny(host, " \t/") {
		return wireguardConfig{}, "endpoint", fmt.Errorf("want the server's public name or address and port, such as home.example.net:51820")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return wireguardConfig{}, "endpoint", fmt.Errorf("port %q: want 1–65535", port)
	}
	server := strings.TrimSpace(f.ServerKey)
	if k, err := base64.StdEncoding.DecodeString(server); err != nil || len(k) != 32 {
		return wireguardConfig{}, "server_public_key", fmt.Errorf("want the server's public key as WireGuard shows it (44 characters of base64)")
	}
	addr := strings.TrimSpace(f.Address)
	if addr == "" {
		addr = defaultTunnelAddress
	}
	pfx, err := netip.ParsePrefix(addr)
	if err != nil {
		return wireguardConfig{}, "address", fmt.Errorf("%q: want an address with its prefix, such as %s", addr, defaultTunnelAddress)
	}
	var dns string
	if d := strings.TrimSpace(f.DNS); d != "" {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return wireguardConfig{}, "dns", fmt.Errorf("%q: want an IP address", d)
		}
		dns = a.String()
	}
	var reach []string
	for _, r := range strings.FieldsFunc(f.Reach, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				return wireguardConfig{}, "allowed_ips", fmt.Errorf("%q: want addresses or networks, such as 192.168.1.20/32", r)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		reach = append(reach, p.String())
	}
	if len(reach) == 0 {
		if reach = lanReach(); len(reach) == 0 {
			return wireguardConfig{}, "allowed_ips", fmt.Errorf("this box has no LAN address: give vakt's address")
		}
	}

	priv, err := wireguardKey()
	if err != nil {
		return wireguardConfig{}, "", err
	}
	name := strings.TrimSpace(f.Name)
	if name == "" {
		name = "phone"
	}
	name = strings.Map(func(r rune) rune {
		if r < ' ' {
			return -1
		}
		return r
	}, name)
	var phone strings.Builder
	fmt.Fprintf(&phone, "[Interface]\nPrivateKey = %s\nAddress = %s\n", base64.StdEncoding.EncodeToString(priv.Bytes()), pfx)
	if dns != "" {
		fmt.Fprintf(&phone, "DNS = %s\n", dns)
	}
	fmt.Fprintf(&phone, "\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\nPersistentKeepalive = 25\n",
		server, net.JoinHostPort(host, port), strings.Join(reach, ", "))
	peer := fmt.Sprintf("[Peer]\n# vakt: %s\nPublicKey = %s\nAllowedIPs = %s\n",
		name, base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()), netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()))
	return wireguardConfig{Phone: phone.String(), Server: peer}, "", nil
}

// wireguardKey makes a Curve25519 private key, clamped as `wg genkey` makes them.
func wireguardKey() (*ecdh.PrivateKey, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[0] &= 248
	b[31] = (b[31] & 127) | 64
	return ecdh.X25519().NewPrivateKey(b[:])
}

// lanReach is vakt's own LAN addresses, each alone: all a phone needs to reach through the
// tunnel (the rest of its traffic stays off it).
func lanReach() []string {
	_, ips := hostNames()
	var out []string
	for _, ip := range ips {
		if ip.IsLoopback() || ip.To4() == nil {
			continue
		}
		out = append(out, ip.String()+"/32")
	}
	return out
}

// qrSVG draws text's QR code (with its quiet zone) as inline SVG: it scales without blur,
// needs no image request (the CSP allows only this origin), and no URL carries what it
// encodes (a WireGuard private key).
func qrSVG(text, label string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	bits := q.Bitmap()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="`,
		len(bits), len(bits), 6*len(bits), 6*len(bits), template.HTMLEscapeString(label))
	for y, row := range bits {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}
