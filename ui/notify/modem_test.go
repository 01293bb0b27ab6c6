package notify

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/sys/unix"

	"vakt/hub"
)

// simModem is a cellular modem on a pseudo-terminal: the modem's side is the pty master;
// vakt opens the slave, as it would open /dev/ttyUSB2. It answers the AT command set of
// text-mode SMS with echo on, as modems do out of the box.
type simModem struct {
	Path   string // the slave: what vakt opens
	master *os.File
	hold   *os.File // keeps the slave open between vakt's messages

	mu   sync.Mutex
	sent []string // number: text
	// inbox holds the received messages by index, as AT+CMGL lists them; cmti makes the
	// modem announce a message (+CMTI) after the next one it sends.
	inbox map[int]Incoming
	next  int
	cmti  bool
	cmds  []string // every command, in order
	// charset and dcs are as AT+CSCS and AT+CSMP last set them; raw has every message as
	// it came over the line.
	charset string
	dcs     string
	raw     []rawSMS
	// mode says how the modem misbehaves: "" works, "cms" answers +CMS ERROR to the
	// text, "error" answers ERROR to AT+CMGF, "mute" says nothing.
	mode string
}

func newSimModem(t *testing.T) *simModem {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n int
	var ierr error
	rc, _ := master.SyscallConn()
	rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr != nil {
			return
		}
		n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	})
	if ierr != nil {
		master.Close()
		t.Fatalf("unlock pty: %v", ierr)
	}
	m := &simModem{Path: fmt.Sprintf("/dev/pts/%d", n), master: master}
	if m.hold, err = openSerial(m.Path, 115200); err != nil {
		master.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); m.serve() }()
	t.Cleanup(func() {
		m.hold.Close()
		master.Close()
		<-done
	})
	return m
}

// rawSMS is a message as the modem got it.
type rawSMS struct {
	Charset, DCS, Number, Text string
}

func (m *simModem) rawMessages() []rawSMS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]rawSMS(nil), m.raw...)
}

// decode reads a string parameter or text in the modem's character set.
func (m *simModem) decode(s string) string {
	if m.charset != "UCS2" {
		return decodeGSM([]byte(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		return "<bad UCS2 " + s + ">"
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// receive puts an SMS from number into the modem's storage.
func (m *simModem) receive(from, text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inbox == nil {
		m.inbox = map[int]Incoming{}
	}
	m.next++
	m.inbox[m.next] = Incoming{Index: m.next, From: from, Text: text}
	m.cmti = true
}

func (m *simModem) stored() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inbox)
}

func (m *simModem) setMode(mode string) {
	m.mu.Lock()
	m.mode = mode
	m.mu.Unlock()
}

func (m *simModem) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sent...)
}

// serve reads commands ending in CR, and a message's text ending in Ctrl-Z.
func (m *simModem) serve() {
	r := bufio.NewReader(m.master)
	number, ref := "", 0
	reply := func(s string) { m.master.WriteString(s) }
	for {
		delim := byte('\r')
		if number != "" {
			delim = 0x1a
		}
		line, err := r.ReadString(delim)
		if err != nil {
			return
		}
		m.mu.Lock()
		mode := m.mode
		m.mu.Unlock()
		if mode == "mute" {
			number = ""
			continue
		}
		reply(line) // echo
		if number != "" {
			text := strings.TrimSuffix(line, "\x1a")
			if mode == "cms" {
				reply("\r\n+CMS ERROR: 500\r\n")
			} else {
				ref++
				m.mu.Lock()
				m.raw = append(m.raw, rawSMS{m.charset, m.dcs, number, text})
				m.sent = append(m.sent, m.decode(number)+": "+m.decode(text))
				cmti := m.cmti
				m.cmti = false
				m.mu.Unlock()
				reply(fmt.Sprintf("\r\n+CMGS: %d\r\n\r\nOK\r\n", ref))
				if cmti {
					reply("\r\n+CMTI: \"SM\",1\r\n")
				}
			}
			number = ""
			continue
		}
		cmd := strings.TrimSpace(line)
		m.mu.Lock()
		m.cmds = append(m.cmds, cmd)
		m.mu.Unlock()
		switch {
		case mode == "error":
			reply("\r\nERROR\r\n")
		case cmd == "AT" || cmd == "AT+CMGF=1":
			reply("\r\nOK\r\n")
		case cmd == `AT+CSCS="GSM"` || cmd == `AT+CSCS="UCS2"`:
			m.mu.Lock()
			m.charset = strings.Trim(strings.TrimPrefix(cmd, "AT+CSCS="), `"`)
			m.mu.Unlock()
			reply("\r\nOK\r\n")
		case strings.HasPrefix(cmd, "AT+CSMP=17,167,0,"):
			m.mu.Lock()
			m.dcs = strings.TrimPrefix(cmd, "AT+CSMP=17,167,0,")
			m.mu.Unlock()
			reply("\r\nOK\r\n")
		case cmd == `AT+CMGL="ALL"`:
			m.mu.Lock()
			var list strings.Builder
			for i := 1; i <= m.next; i++ {
				if in, ok := m.inbox[i]; ok {
					text, _ := toGSM(in.Text) // what the modem gives in AT+CSCS="GSM"
					fmt.Fprintf(&list, "\r\n+CMGL: %d,\"REC UNREAD\",\"%s\",,\"26/11/29,18:03:00+04\"\r\n%s", i, in.From, text)
				}
			}
			m.mu.Unlock()
			reply(list.String() + "\r\n\r\nOK\r\n")
		case strings.HasPrefix(cmd, "AT+CMGD="):
			i, err := strconv.Atoi(strings.TrimPrefix(cmd, "AT+CMGD="))
			m.mu.Lock()
			_, ok := m.inbox[i]
			delete(m.inbox, i)
			m.mu.Unlock()
			if err != nil || !ok {
				reply("\r\n+CMS ERROR: 321\r\n")
			} else {
				reply("\r\nOK\r\n")
			}
		case strings.HasPrefix(cmd, "AT+CMGS=\""):
			number = strings.Trim(strings.TrimPrefix(cmd, "AT+CMGS="), "\"")
			reply("\r\n> ")
		default:
			reply("\r\nERROR\r\n")
		}
	}
}

func testModem(m *simModem) *Modem {
	md := NewModem(ModemConfig{Device: m.Path, Baud: 115200, Timeout: hub.Duration(300 * time.Millisecond), Attempts: 2}, nil)
	md.pause = 10 * time.Millisecond
	return md
}

func TestModem_SendsSMS(t *testing.T) {
	sim := newSimModem(t)
	md := testModem(sim)
	ctx := context.Background()
	if err := md.Send(ctx, "+46701234567", Message{Title: "INBROTT", Body: "Hall (House) 18:02", Alarm: true}); err != nil {
		t.Fatal(err)
	}
	if err := md.Send(ctx, "+46709876543", Message{Title: "Larmade av", Body: "Anna larmade av med kod 18:02"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"+46701234567: INBROTT: Hall (House) 18:02", "+46709876543: Larmade av: Anna larmade av med kod 18:02"}
	if got := sim.messages(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("modem got %q, want %q", got, want)
	}
}

func TestModem_Faults(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"cms", "+CMS ERROR: 500"},
		{"error", "modem answered ERROR"},
		{"mute", "no answer within"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sim := newSimModem(t)
			sim.setMode(tc.mode)
			err := testModem(sim).Send(context.Background(), "+46701234567", Message{Title: "BRAND"})
			if !errors.Is(err, ErrModem) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "after 2 attempts") {
				t.Fatalf("error %v, want a modem fault with %q", err, tc.want)
			}
			// The modem works again: the next message goes.
			sim.setMode("")
			if err := testModem(sim).Send(context.Background(), "+46701234567", Message{Title: "BRAND"}); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

func TestModem_MissingDevice(t *testing.T) {
	md := NewModem(ModemConfig{Device: "/dev/nonexistent-modem", Baud: 115200, Timeout: hub.Duration(time.Second), Attempts: 1}, nil)
	if err := md.Send(context.Background(), "+46701234567", Message{Title: "x"}); !errors.Is(err, ErrModem) {
		t.Fatalf("error %v", err)
	}
}

func TestSMSText(t *testing.T) {
	if got := smsText(Message{Title: "a\x1ab", Body: "c\x1bd"}); got != "a b: c d" {
		t.Errorf("%q", got)
	}
	tests := []struct {
		name    string
		m       Message
		want    string
		charset string
	}{
		{"Swedish fits GSM", Message{Title: "Larmade av", Body: "Åsa larmade av på knappsatsen 18:02"}, "Larmade av: Åsa larmade av på knappsatsen 18:02", "GSM"},
		{"160 GSM characters whole", Message{Title: strings.Repeat("ä", 150), Body: "123456"}, strings.Repeat("ä", 150) + ": 123456", "GSM"},
		{"longer: cut with ...", Message{Title: "BRAND", Body: strings.Repeat("ö", 200), Alarm: true, AckHint: "Svara OK för att kvittera."},
			"BRAND: " + strings.Repeat("ö", 160-7-28-3) + ".... Svara OK för att kvittera.", "GSM"},
		{"emoji: UCS2", Message{Title: "🔥 BRAND", Body: "Kök"}, "🔥 BRAND: Kök", "UCS2"},
		{"euro: UCS2", Message{Title: "Cost", Body: "5 €"}, "Cost: 5 €", "UCS2"},
		{"Cyrillic: UCS2", Message{Title: "ПОЖАР", Body: "Кухня"}, "ПОЖАР: Кухня", "UCS2"},
		{"long UCS2: cut at 70 units with …, no half emoji", Message{Title: "🔥", Body: strings.Repeat("🔥", 40), Alarm: true, AckHint: "OK?"},
			"🔥: " + strings.Repeat("🔥", 30) + "…. OK?", "UCS2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := smsText(tc.m)
			if got != tc.want {
				t.Errorf("text\n got %q\nwant %q", got, tc.want)
			}
			enc := encodeSMS(got)
			if enc.Charset != tc.charset {
				t.Errorf("charset %s, want %s", enc.Charset, tc.charset)
			}
			if enc.Charset == "GSM" && len([]rune(got)) > smsMaxGSM || enc.Charset == "UCS2" && len(enc.Text)/4 > smsMaxUCS2 {
				t.Errorf("too long for one SMS: %d", len([]rune(got)))
			}
		})
	}
}

// TestModem_Charsets: over the pseudo-terminal, Swedish goes as GSM 7-bit codes (å is
// 0x0F), an emoji as UCS2 in hex with the number in hex too and the data coding scheme 8.
func TestModem_Charsets(t *testing.T) {
	sim := newSimModem(t)
	md := testModem(sim)
	ctx := context.Background()
	if err := md.Send(ctx, "+46701234567", Message{Title: "Larm på", Body: "Åsa"}); err != nil {
		t.Fatal(err)
	}
	if err := md.Send(ctx, "+46701234567", Message{Title: "🔥 BRAND", Body: "Kök"}); err != nil {
		t.Fatal(err)
	}
	raw := sim.rawMessages()
	want := []rawSMS{
		{"GSM", "0", "+46701234567", "Larm p\x0f: \x0esa"},
		{"UCS2", "8", "002B00340036003700300031003200330034003500360037", "D83DDD250020004200520041004E0044003A0020004B00F6006B"},
	}
	if fmt.Sprintf("%q", raw) != fmt.Sprintf("%q", want) {
		t.Errorf("raw\n got %q\nwant %q", raw, want)
	}
	if got := sim.messages(); got[0] != "+46701234567: Larm på: Åsa" || got[1] != "+46701234567: 🔥 BRAND: Kök" {
		t.Errorf("decoded %q", got)
	}
}

func TestModem_Receive(t *testing.T) {
	sim := newSimModem(t)
	md := testModem(sim)
	sim.receive("+46701234567", "OK")
	sim.receive("0046709876543", "Vem är det?\nHallå")
	got, err := md.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Incoming{{1, "+46701234567", "OK"}, {2, "0046709876543", "Vem är det?\nHallå"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if sim.stored() != 0 {
		t.Error("read messages not deleted")
	}
	if got, err := md.Receive(context.Background()); err != nil || len(got) != 0 {
		t.Errorf("second read: %v %v", got, err)
	}
	sim.setMode("error")
	if _, err := md.Receive(context.Background()); !errors.Is(err, ErrModem) && !strings.Contains(err.Error(), "ERROR") {
		t.Errorf("a modem answering ERROR: %v", err)
	}
	if _, err := NewModem(ModemConfig{Device: "/dev/nonexistent-modem", Baud: 115200, Timeout: hub.Duration(time.Second)}, nil).Receive(context.Background()); !errors.Is(err, ErrModem) {
		t.Errorf("a modem gone: %v", err)
	}
}

func TestSMSReplies(t *testing.T) {
	for _, s := range []string{"OK", "ok", " Ok! ", "KVITTERA", "kvitterat.", "Seen"} {
		if !isAck(s) {
			t.Errorf("%q is an acknowledgement", s)
		}
	}
	for _, s := range []string{"", "OK?? who is this", "nej", "STOP"} {
		if isAck(s) {
			t.Errorf("%q is no acknowledgement", s)
		}
	}
	if !samePhone("+46701234567", "0046701234567") || samePhone("+46701234567", "+46701234568") || samePhone("", "") {
		t.Error("samePhone")
	}
}
