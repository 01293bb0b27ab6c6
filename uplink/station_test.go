package uplink

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testStation is a monitoring station's DC-09 receiver for these tests, written from the
// DC-09 rules and not from package dc09: its own CRC, frame parser, AES and replies. It
// listens on 127.0.0.1 over TCP or UDP, and can ACK, NAK (timestamp outside its window),
// answer DUH, stay silent, answer garbage, hang up, or be closed and opened again on the
// same address.

// stCRC is CRC-16/ARC (reflected polynomial 0xA001, initial 0), one bit at a time.
func stCRC(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			lsb := crc & 1
			crc >>= 1
			if lsb != 0 {
				crc ^= 0xA001
			}
		}
	}
	return crc
}

// stFrame wraps a body as LF, CRC, "0" and the three-digit hex length, body, CR.
func stFrame(body string) []byte {
	return []byte(fmt.Sprintf("\n%04X0%03X%s\r", stCRC([]byte(body)), len(body), body))
}

// stTimeLayout writes DC-09's HH:MM:SS,MM-DD-YYYY. (time.Parse cannot read it back: it
// takes ",0" after the seconds for a fraction.)
const stTimeLayout = "15:04:05,01-02-2006"

func stParseTime(s string) (time.Time, error) {
	var hh, mm, ss, mo, dd, yyyy int
	if len(s) != 19 {
		return time.Time{}, errors.New("not HH:MM:SS,MM-DD-YYYY")
	}
	if _, err := fmt.Sscanf(s, "%2d:%2d:%2d,%2d-%2d-%4d", &hh, &mm, &ss, &mo, &dd, &yyyy); err != nil {
		return time.Time{}, err
	}
	return time.Date(yyyy, time.Month(mo), dd, hh, mm, ss, 0, time.UTC), nil
}

// stMessage is one message as the station read it.
type stMessage struct {
	encrypted bool
	id        string
	seq       int
	rcvr      string // without the "R"
	line      string // without the "L"
	acct      string // without the "#"
	data      string
	ext       []string // extended blocks, without brackets
	ts        time.Time
	hasTS     bool
}

// stParse reads one frame: the length and CRC first, then the header field by field, then
// the data block, clear or decrypted with key.
func stParse(raw []byte, key []byte) (stMessage, error) {
	var m stMessage
	s := strings.TrimRight(strings.TrimLeft(string(raw), "\n\x00"), "\r")
	if len(s) < 8 {
		return m, fmt.Errorf("frame %q too short", raw)
	}
	crc, err := strconv.ParseUint(s[:4], 16, 16)
	if err != nil {
		return m, fmt.Errorf("crc field %q", s[:4])
	}
	if s[4] != '0' {
		return m, fmt.Errorf("length field %q does not start with 0", s[4:8])
	}
	n, err := strconv.ParseUint(s[5:8], 16, 16)
	if err != nil {
		return m, fmt.Errorf("length field %q", s[4:8])
	}
	body := s[8:]
	if int(n) != len(body) {
		return m, fmt.Errorf("length %d, body has %d", n, len(body))
	}
	if uint16(crc) != stCRC([]byte(body)) {
		return m, fmt.Errorf("crc %04X, want %04X", crc, stCRC([]byte(body)))
	}
	if body == "" || body[0] != '"' {
		return m, errors.New("no opening quote")
	}
	end := strings.IndexByte(body[1:], '"')
	if end < 0 {
		return m, errors.New("no closing quote")
	}
	m.id, body = body[1:end+1], body[end+2:]
	if strings.HasPrefix(m.id, "*") {
		m.encrypted, m.id = true, m.id[1:]
	}
	if len(body) < 4 {
		return m, errors.New("no sequence number")
	}
	if m.seq, err = strconv.Atoi(body[:4]); err != nil {
		return m, fmt.Errorf("sequence %q", body[:4])
	}
	body = body[4:]
	field := func(marker byte) string {
		if body == "" || body[0] != marker {
			return ""
		}
		i := 1
		for i < len(body) && strings.IndexByte("0123456789ABCDEFabcdef", body[i]) >= 0 {
			i++
		}
		v := body[1:i]
		body = body[i:]
		return v
	}
	m.rcvr = field('R')
	if m.line = field('L'); m.line == "" {
		return m, errors.New("no line prefix")
	}
	if m.acct = field('#'); len(m.acct) < 3 {
		return m, fmt.Errorf("account %q", m.acct)
	}
	if body == "" || body[0] != '[' {
		return m, fmt.Errorf("no data block in %q", body)
	}
	content := body[1:]
	if m.encrypted {
		if key == nil {
			return m, errors.New("encrypted frame, and the station has no key")
		}
		ct, err := hex.DecodeString(content)
		if err != nil || len(ct) == 0 || len(ct)%16 != 0 {
			return m, fmt.Errorf("ciphertext %q", content)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return m, err
		}
		cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(ct, ct)
		pt := string(ct)
		i := strings.IndexAny(pt, "|]")
		if i < 0 || strings.ContainsAny(pt[:i], "[") {
			return m, fmt.Errorf("plaintext %q: no padding end", pt)
		}
		if pt[i] == '|' {
			i++
		}
		content = pt[i:]
	}
	end = strings.IndexByte(content, ']')
	if end < 0 {
		return m, fmt.Errorf("data %q not closed", content)
	}
	m.data, content = content[:end], content[end+1:]
	for strings.HasPrefix(content, "[") { // extended blocks
		j := strings.IndexByte(content, ']')
		if j < 0 {
			return m, fmt.Errorf("extended block %q not closed", content)
		}
		m.ext = append(m.ext, content[1:j])
		content = content[j+1:]
	}
	if content != "" {
		if content[0] != '_' {
			return m, fmt.Errorf("trailer %q", content)
		}
		if m.ts, err = stParseTime(content[1:]); err != nil {
			return m, fmt.Errorf("timestamp %q: %v", content, err)
		}
		m.hasTS = true
	}
	if m.encrypted && !m.hasTS {
		return m, errors.New("encrypted message without a timestamp")
	}
	return m, nil
}

// stReply is how the station answers a message.
type stReply int

const (
	replyStandard stReply = iota // ACK inside the timestamp window, NAK outside
	replyACK
	replyNAK
	replyDUH
	replySilent
	replyGarbage
	replyHangUp
	// replyFieldACK is an ACK as a receiver in the field writes it when it has no
	// receiver number: "None" where the R field would be ("ACK"0001NoneL0#1234[]).
	replyFieldACK
	// replyBareNAK is a bare "NAK", without LF, CRC, length or CR, as the same
	// receiver answers an account it does not know.
	replyBareNAK
)

// accepted is a message a station acknowledged.
type accepted struct {
	station string
	msg     stMessage
}

// stationLog records, across stations, the messages acknowledged, in the order the ACKs
// went out: the station side of the delivery.
type stationLog struct {
	mu   sync.Mutex
	acks []accepted
}

func (l *stationLog) add(a accepted) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// events returns the acknowledged event messages (NULL polls left out).
func (l *stationLog) events() []accepted {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []accepted
	for _, a := range l.acks {
		if a.msg.id != "NULL" {
			out = append(out, a)
		}
	}
	return out
}

func (l *stationLog) polls(station string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acks {
		if a.msg.id == "NULL" && a.station == station {
			n++
		}
	}
	return n
}

type testStation struct {
	t       testing.TB
	name    string
	network string
	key     []byte
	log     *stationLog
	skew    atomic.Int64 // the station's clock minus ours
	answer  atomic.Pointer[func(stMessage) stReply]

	mu     sync.Mutex
	addr   string
	ln     net.Listener
	pc     net.PacketConn
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
	frames []stMessage
	counts map[stReply]int
}

// startStation starts a station on 127.0.0.1 and closes it when the test ends. Every frame
// it gets must parse.
func startStation(t testing.TB, name, network string, key []byte, log *stationLog) *testStation {
	t.Helper()
	if log == nil {
		log = &stationLog{}
	}
	s := &testStation{t: t, name: name, network: network, key: key, log: log, conns: map[net.Conn]bool{}, counts: map[stReply]int{}}
	s.setAnswer(nil)
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// setAnswer sets how the station answers; nil is the standard answer.
func (s *testStation) setAnswer(f func(stMessage) stReply) {
	if f == nil {
		f = func(stMessage) stReply { return replyStandard }
	}
	s.answer.Store(&f)
}

// setSkew sets the station's clock ahead of ours by d.
func (s *testStation) setSkew(d time.Duration) { s.skew.Store(int64(d)) }

func (s *testStation) listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(s.network, "udp") {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		s.pc, s.addr = pc, pc.LocalAddr().String()
		s.wg.Add(1)
		go s.serveUDP(pc)
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go s.acceptTCP(ln)
	return nil
}

// close stops listening and drops every connection: the station is down.
func (s *testStation) close() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	if s.pc != nil {
		s.pc.Close()
		s.pc = nil
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// reopen listens again on the same address: the station is back.
func (s *testStation) reopen() {
	s.t.Helper()
	var err error
	for range 50 { // the port may be in use for a moment after close
		if err = s.listen(s.addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("station %s: reopen %s: %v", s.name, s.addr, err)
}

func (s *testStation) acceptTCP(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ln != ln { // closed since Accept returned
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			br := bufio.NewReader(c)
			for {
				raw, err := br.ReadBytes('\r')
				if err != nil {
					return
				}
				reply, hangUp := s.handle(raw)
				if reply != nil {
					if _, err := c.Write(reply); err != nil {
						return
					}
				}
				if hangUp {
					return
				}
			}
		}()
	}
}

func (s *testStation) serveUDP(pc net.PacketConn) {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply, _ := s.handle(append([]byte(nil), buf[:n]...)); reply != nil {
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

func (s *testStation) now() time.Time {
	return time.Now().Add(time.Duration(s.skew.Load())).UTC()
}

// handle answers one frame.
func (s *testStation) handle(raw []byte) (reply []byte, hangUp bool) {
	m, err := stParse(raw, s.key)
	if err != nil {
		s.t.Errorf("station %s: %v", s.name, err)
		return nil, true
	}
	how := (*s.answer.Load())(m)
	now := s.now()
	if how == replyStandard {
		how = replyACK
		if m.hasTS && (m.ts.Before(now.Add(-40*time.Second)) || m.ts.After(now.Add(20*time.Second))) {
			how = replyNAK
		}
	}
	s.mu.Lock()
	s.frames = append(s.frames, m)
	s.counts[how]++
	s.mu.Unlock()
	stamp := "_" + now.Format(stTimeLayout)
	hdr := fmt.Sprintf("%04d", m.seq)
	if m.rcvr != "" {
		hdr += "R" + m.rcvr
	}
	hdr += "L" + m.line + "#" + m.acct
	switch how {
	case replyACK:
		s.log.add(accepted{station: s.name, msg: m})
		if !m.encrypted {
			return stFrame(`"ACK"` + hdr + "[]"), false
		}
		return stFrame(`"*ACK"` + hdr + "[" + s.encrypt("|]"+stamp)), false
	case replyFieldACK:
		s.log.add(accepted{station: s.name, msg: m})
		field := fmt.Sprintf("%04dNoneL%s#%s", m.seq, m.line, m.acct)
		if !m.encrypted {
			return stFrame(`"ACK"` + field + "[]"), false
		}
		return stFrame(`"*ACK"` + field + "[" + s.encrypt("|]"+stamp)), false
	case replyBareNAK:
		return []byte(`"NAK"`), false
	case replyNAK:
		return stFrame(`"NAK"0000R0L0A0[]` + stamp), false
	case replyDUH:
		return stFrame(`"DUH"` + hdr + "[]"), false
	case replyGarbage:
		return []byte("\nthis is not DC-09\r"), false
	case replyHangUp:
		return nil, true
	default: // silent
		return nil, false
	}
}

// encrypt pads content on the left to whole AES blocks and returns the hex ciphertext.
func (s *testStation) encrypt(content string) string {
	pt := []byte(strings.Repeat("Q", 16-len(content)%16) + content)
	block, err := aes.NewCipher(s.key)
	if err != nil {
		panic(err)
	}
	cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(pt, pt)
	return strings.ToUpper(hex.EncodeToString(pt))
}

func (s *testStation) count(how stReply) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[how]
}

func (s *testStation) received() []stMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stMessage(nil), s.frames...)
}

func TestStation_ParsesItsOwnFrames(t *testing.T) {
	// A known frame from the DC-09 standard's examples (clear SIA-DCS).
	body := `"SIA-DCS"0002R1L232#78919[#78919|NRP000]_13:14:15,10-20-2013`
	m, err := stParse(stFrame(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.id != "SIA-DCS" || m.seq != 2 || m.rcvr != "1" || m.line != "232" || m.acct != "78919" || m.data != "#78919|NRP000" || !m.hasTS {
		t.Fatalf("parsed %+v", m)
	}
	if got := stCRC([]byte("123456789")); got != 0xBB3D {
		t.Fatalf("CRC check value %04X, want BB3D", got)
	}
}
