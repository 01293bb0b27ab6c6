package notify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
				m.sent = append(m.sent, number+": "+text)
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
		case cmd == "AT" || cmd == "AT+CMGF=1" || cmd == `AT+CSCS="GSM"`:
			reply("\r\nOK\r\n")
		case cmd == `AT+CMGL="ALL"`:
			m.mu.Lock()
			var list strings.Builder
			for i := 1; i <= m.next; i++ {
				if in, ok := m.inbox[i]; ok {
					fmt.Fprintf(&list, "\r\n+CMGL: %d,\"REC UNREAD\",\"%s\",,\"26/11/29,18:03:00+04\"\r\n%s", i, in.From, in.Text)
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
	long := strings.Repeat("å", 200)
	if got := []rune(smsText(Message{Title: "T", Body: long})); len(got) != smsMax || got[len(got)-1] != '…' {
		t.Errorf("%d runes", len(got))
	}
	if got := smsText(Message{Title: "a\x1ab", Body: "c\x1bd"}); got != "a b: c d" {
		t.Errorf("%q", got)
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
		t.Errorf("got %q, want %q", got, want)
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
