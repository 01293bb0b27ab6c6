package dc09

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrFormat reports a frame that does not follow the DC-09 layout.
	ErrFormat = errors.New("dc09: malformed frame")
	// ErrLength reports a frame whose length field does not match its body:
	// usually a truncated or concatenated frame.
	ErrLength = errors.New("dc09: length mismatch")
	// ErrCRC reports a frame whose CRC field does not match its body.
	ErrCRC = errors.New("dc09: crc mismatch")
	// ErrNoKey reports an encrypted frame decoded without a key. Decode still
	// returns the clear header fields, so a receiver can look the key up by
	// account and try again.
	ErrNoKey = errors.New("dc09: encrypted frame and no key")
	// ErrKey reports an AES key that is not 16, 24 or 32 bytes long.
	ErrKey = errors.New("dc09: key must be 16, 24 or 32 bytes")
	// ErrDecrypt reports encrypted content that does not make sense once
	// decrypted, which almost always means the wrong key.
	ErrDecrypt = errors.New("dc09: decrypted content malformed (wrong key?)")
	// ErrInvalid reports a Message or payload field that cannot be encoded.
	ErrInvalid = errors.New("dc09: invalid message")
)

// Message IDs (the quoted token at the start of a frame body) used by this
// package. Other tokens are carried through unchanged.
const (
	// IDSIADCS carries SIA DC-03 (SIA-DCS) event data.
	IDSIADCS = "SIA-DCS"
	// IDContactID carries Ademco Contact ID event data.
	IDContactID = "ADM-CID"
	// IDNull is the supervision (link test) message.
	IDNull = "NULL"
	// IDACK is the receiver's positive acknowledgement.
	IDACK = "ACK"
	// IDNAK is the receiver's rejection of a message, for a timestamp outside
	// its window; it carries the receiver's time.
	IDNAK = "NAK"
	// IDDUH is the receiver's answer to a message it did not understand.
	IDDUH = "DUH"
)

// MaxFrame is the longest possible DC-09 frame in bytes: LF, four CRC digits,
// "0LLL", a body of at most 0xFFF bytes, and CR.
const MaxFrame = 1 + 4 + 4 + maxBody + 1

const (
	maxBody         = 0xFFF
	timestampLayout = "15:04:05,01-02-2006"
	timestampLen    = 1 + len(timestampLayout) // with the leading '_'
	maxPad          = aes.BlockSize
)

// Message is one DC-09 message, clear or encrypted, as it travels in a frame.
type Message struct {
	// ID is the message token without quotes or the '*' that marks
	// encryption: "SIA-DCS", "ADM-CID", "NULL", "ACK", "NAK", "DUH".
	ID string
	// Encrypted marks an AES-encrypted message ("*SIA-DCS"). Only the data,
	// extended blocks and timestamp are encrypted; the header stays clear.
	Encrypted bool
	// Seq is the sequence number, 1–9999. A receiver echoes it in its ACK.
	// 0 is used by NAK and by some panels' NULL messages.
	Seq int
	// Receiver is the optional receiver number ("R" field), 1–6 hex digits.
	Receiver string
	// Line is the account prefix ("L" field), 1–6 hex digits, required.
	Line string
	// Account is the account number ("#" field), 3–16 hex digits. A NAK
	// writes it after "A" instead (the standard's fixed "R0L0A0").
	Account string
	// Data is the content of the first bracketed block without the brackets,
	// for example "#1234|Nri1/BA01" or "#1234|1130 01 001".
	Data string
	// Extended holds the optional blocks after the data block, such as
	// "M0026B9E4268B" for a "[M0026B9E4268B]" MAC address block, without
	// brackets.
	Extended []string
	// Timestamp is the message time, sent in UTC with one-second resolution.
	// It is used only when HasTimestamp is set.
	Timestamp time.Time
	// HasTimestamp reports whether the frame carries a timestamp. Encrypted
	// messages must have one.
	HasTimestamp bool
}

// Encode returns msg as a complete frame, LF through CR:
//
//	<LF>CRC0LLL"ID"seqRrcvrLlpref#acct[data]_HH:MM:SS,MM-DD-YYYY<CR>
//
// When msg.Encrypted is set, everything after "[" is replaced by the
// uppercase hex of the AES-CBC (zero IV) encryption, under key, of
// pad|data]…_timestamp, where pad is 1–16 bytes read from pad (crypto/rand
// when pad is nil) and mapped onto letters and digits so that it never holds
// '[', ']' or '|', and long enough to make the plaintext a multiple of 16
// bytes. key must then be 16, 24 or 32 bytes (AES-128/192/256); it is ignored
// for clear messages.
func Encode(msg Message, key []byte, pad io.Reader) ([]byte, error) {
	var block cipher.Block
	if msg.Encrypted {
		b, err := newCipher(key)
		if err != nil {
			return nil, fmt.Errorf("encode frame: %w", err)
		}
		block = b
	}
	return encode(msg, block, pad)
}

// encode is Encode with the cipher already made (nil for a clear message),
// so that a Client sets up AES once.
func encode(msg Message, block cipher.Block, pad io.Reader) ([]byte, error) {
	if err := msg.validate(); err != nil {
		return nil, fmt.Errorf("encode frame: %w", err)
	}
	if msg.Encrypted && block == nil {
		return nil, fmt.Errorf("encode frame: %w", ErrNoKey)
	}

	// The body is appended after room for LF, CRC and length, which are
	// filled in once its size is known; one buffer, sized up front.
	const header = 1 + 4 + 4
	content := len(msg.Data) + 1 + timestampLen
	for _, x := range msg.Extended {
		content += len(x) + 2
	}
	if msg.Encrypted {
		content = 2 * (content + 1 + maxPad)
	}
	f := make([]byte, header, header+len(msg.ID)+40+content+1)

	f = append(f, '"')
	if msg.Encrypted {
		f = append(f, '*')
	}
	f = append(f, msg.ID...)
	f = append(f, '"')
	f = appendSeq(f, msg.Seq)
	if msg.Receiver != "" {
		f = append(f, 'R')
		f = append(f, msg.Receiver...)
	}
	f = append(f, 'L')
	f = append(f, msg.Line...)
	if msg.Account != "" {
		if msg.ID == IDNAK {
			f = append(f, 'A')
		} else {
			f = append(f, '#')
		}
		f = append(f, msg.Account...)
	}
	f = append(f, '[')
	if msg.Encrypted {
		var err error
		if f, err = appendEncrypted(f, msg, block, pad); err != nil {
			return nil, fmt.Errorf("encode frame: %w", err)
		}
	} else {
		f = appendContent(f, msg)
	}

	body := f[header:]
	if len(body) > maxBody {
		return nil, fmt.Errorf("encode frame: %w: body of %d bytes exceeds %d", ErrLength, len(body), maxBody)
	}
	f[0] = '\n'
	appendHex16(f[1:1], CRC(body))
	appendHex16(f[5:5], uint16(len(body)))
	return append(f, '\r'), nil
}

// Decode parses one frame, with or without its leading LF and trailing CR,
// after checking its length field and CRC. Encrypted frames (ID starting with
// '*') are decrypted with key; without a key Decode returns the clear header
// fields (ID, Seq, Receiver, Line, Account) together with ErrNoKey.
//
// In a NAK without a "#" account, "A" ends the line prefix and starts the
// account, so the standard's "NAK"0000R0L0A0[] reads as receiver "0", line
// "0", account "0".
func Decode(frame []byte, key []byte) (Message, error) {
	return decode(frame, key, nil)
}

// decode is Decode that uses block, when not nil, instead of making a cipher
// from key.
func decode(frame []byte, key []byte, block cipher.Block) (Message, error) {
	f := frame
	if len(f) > 0 && f[0] == '\n' {
		f = f[1:]
	}
	if len(f) > 0 && f[len(f)-1] == '\r' {
		f = f[:len(f)-1]
	}
	if len(f) < 8 {
		return Message{}, fmt.Errorf("decode frame: %w: %d bytes is shorter than the CRC and length header", ErrFormat, len(f))
	}
	crc, ok := parseHex16(f[0:4])
	if !ok {
		return Message{}, fmt.Errorf("decode frame: %w: crc field %q is not 4 hex digits", ErrFormat, f[0:4])
	}
	n, ok := parseHex16(f[4:8])
	if !ok || n > maxBody {
		return Message{}, fmt.Errorf("decode frame: %w: length field %q is not 0 and 3 hex digits", ErrFormat, f[4:8])
	}
	body := f[8:]
	if int(n) != len(body) {
		return Message{}, fmt.Errorf("decode frame: %w: length field says %d bytes, body has %d", ErrLength, n, len(body))
	}
	if got := CRC(body); got != crc {
		return Message{}, fmt.Errorf("decode frame: %w: frame says %04X, body has %04X", ErrCRC, crc, got)
	}
	msg, err := parseBody(string(body), key, block)
	if err != nil {
		return msg, fmt.Errorf("decode frame: %w", err)
	}
	return msg, nil
}

// validate checks every field Encode writes, so that a frame it produces
// always decodes to the same Message.
func (m Message) validate() error {
	if !validID(m.ID) {
		return fmt.Errorf("%w: id %q is not letters, digits and '-'", ErrInvalid, m.ID)
	}
	minSeq := 1
	if m.ID == IDNAK || m.ID == IDNull {
		minSeq = 0
	}
	if m.Seq < minSeq || m.Seq > 9999 {
		return fmt.Errorf("%w: sequence %d is outside %d–9999", ErrInvalid, m.Seq, minSeq)
	}
	if m.Receiver != "" && !isHex(m.Receiver, 1, 6) {
		return fmt.Errorf("%w: receiver %q is not 1–6 hex digits", ErrInvalid, m.Receiver)
	}
	if !isHex(m.Line, 1, 6) {
		return fmt.Errorf("%w: line prefix %q is not 1–6 hex digits", ErrInvalid, m.Line)
	}
	if m.ID == IDNAK {
		if m.Encrypted {
			return fmt.Errorf("%w: a NAK is never encrypted", ErrInvalid)
		}
		// Decode reads a NAK's "A" as the start of the account.
		if strings.Contains(m.Line, "A") {
			return fmt.Errorf("%w: NAK line prefix %q holds 'A', which would read as the account marker", ErrInvalid, m.Line)
		}
		if m.Account != "" && !isHex(m.Account, 1, 16) {
			return fmt.Errorf("%w: NAK account %q is not 1–16 hex digits", ErrInvalid, m.Account)
		}
	} else if !isHex(m.Account, 3, 16) {
		return fmt.Errorf("%w: account %q is not 3–16 hex digits", ErrInvalid, m.Account)
	}
	if !isBlockText(m.Data) {
		return fmt.Errorf("%w: data %q holds a bracket or a non-printable byte", ErrInvalid, m.Data)
	}
	for _, x := range m.Extended {
		if x == "" || !isBlockText(x) {
			return fmt.Errorf("%w: extended block %q is empty or holds a bracket or a non-printable byte", ErrInvalid, x)
		}
	}
	if m.HasTimestamp {
		if y := m.Timestamp.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("%w: timestamp year %d does not fit 4 digits", ErrInvalid, y)
		}
	} else if m.Encrypted {
		return fmt.Errorf("%w: an encrypted message needs a timestamp", ErrInvalid)
	}
	return nil
}

// appendContent appends what follows the opening bracket of the data block:
// data]…_timestamp, the same in a clear frame and in the plaintext.
func appendContent(b []byte, m Message) []byte {
	b = append(b, m.Data...)
	b = append(b, ']')
	for _, x := range m.Extended {
		b = append(b, '[')
		b = append(b, x...)
		b = append(b, ']')
	}
	if m.HasTimestamp {
		b = append(b, '_')
		b = m.Timestamp.UTC().AppendFormat(b, timestampLayout)
	}
	return b
}

// appendEncrypted appends the hex ciphertext of pad|data]…_timestamp.
func appendEncrypted(b []byte, m Message, block cipher.Block, pad io.Reader) ([]byte, error) {
	content := make([]byte, 0, maxPad+1+len(m.Data)+1+timestampLen+16*len(m.Extended))
	content = append(content, '|')
	content = appendContent(content, m)
	n := maxPad - len(content)%maxPad

	pt := make([]byte, n, n+len(content))
	if pad == nil {
		pad = rand.Reader
	}
	if _, err := io.ReadFull(pad, pt); err != nil {
		return nil, fmt.Errorf("read padding: %w", err)
	}
	for i, c := range pt {
		pt[i] = padByte(c)
	}
	pt = append(pt, content...)

	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(pt, pt)
	return appendHexUpper(b, pt), nil
}

// padAlphabet is what padding bytes are mapped onto: printable, and never
// '[', ']' or '|', which the receiver uses to find where the data starts.
const padAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// padByte keeps letters and digits as they are (so a test's fixed padding
// shows up unchanged) and maps any other byte onto padAlphabet.
func padByte(c byte) byte {
	if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
		return c
	}
	return padAlphabet[int(c)%len(padAlphabet)]
}

func newCipher(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w: got %d", ErrKey, len(key))
	}
	return aes.NewCipher(key)
}

// parseBody parses everything after the length field.
func parseBody(b string, key []byte, block cipher.Block) (Message, error) {
	var m Message
	if len(b) == 0 || b[0] != '"' {
		return m, fmt.Errorf("%w: body does not start with a quoted id", ErrFormat)
	}
	end := strings.IndexByte(b[1:], '"')
	if end < 0 {
		return m, fmt.Errorf("%w: id has no closing quote", ErrFormat)
	}
	id, rest := b[1:1+end], b[2+end:]
	if strings.HasPrefix(id, "*") {
		m.Encrypted = true
		id = id[1:]
	}
	if !validID(id) {
		return m, fmt.Errorf("%w: id %q", ErrFormat, id)
	}
	m.ID = id

	if len(rest) < 4 || !isDigits(rest[:4]) {
		return m, fmt.Errorf("%w: sequence is not 4 digits", ErrFormat)
	}
	m.Seq, _ = strconv.Atoi(rest[:4])
	rest = rest[4:]

	if strings.HasPrefix(rest, "R") {
		n := hexRun(rest[1:], false)
		if n < 1 || n > 6 {
			return m, fmt.Errorf("%w: receiver is not 1–6 hex digits", ErrFormat)
		}
		m.Receiver, rest = rest[1:1+n], rest[1+n:]
	}

	if !strings.HasPrefix(rest, "L") {
		return m, fmt.Errorf("%w: no line prefix (L)", ErrFormat)
	}
	// The standard's NAK reads "L0A0": there 'A' marks the account.
	nakAccount := m.ID == IDNAK && !strings.Contains(rest[:max(0, strings.IndexByte(rest, '['))], "#")
	n := hexRun(rest[1:], nakAccount)
	if n < 1 || n > 6 {
		return m, fmt.Errorf("%w: line prefix is not 1–6 hex digits", ErrFormat)
	}
	m.Line, rest = rest[1:1+n], rest[1+n:]

	switch {
	case strings.HasPrefix(rest, "#"):
		n := hexRun(rest[1:], false)
		if n < 3 || n > 16 {
			return m, fmt.Errorf("%w: account is not 3–16 hex digits", ErrFormat)
		}
		m.Account, rest = rest[1:1+n], rest[1+n:]
	case nakAccount && strings.HasPrefix(rest, "A"):
		n := hexRun(rest[1:], false)
		if n < 1 || n > 16 {
			return m, fmt.Errorf("%w: NAK account is not 1–16 hex digits", ErrFormat)
		}
		m.Account, rest = rest[1:1+n], rest[1+n:]
	}

	if !strings.HasPrefix(rest, "[") {
		return m, fmt.Errorf("%w: no data block after the account", ErrFormat)
	}
	rest = rest[1:]

	if !m.Encrypted {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return m, fmt.Errorf("%w: data block has no closing bracket", ErrFormat)
		}
		if strings.IndexByte(rest[:j], '[') >= 0 {
			return m, fmt.Errorf("%w: data block holds '['", ErrFormat)
		}
		m.Data = rest[:j]
		if err := parseTail(rest[j+1:], &m); err != nil {
			return m, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		return m, nil
	}

	if len(rest) == 0 || len(rest)%(2*aes.BlockSize) != 0 {
		return m, fmt.Errorf("%w: encrypted block of %d hex digits is not whole AES blocks", ErrFormat, len(rest))
	}
	ct, err := hex.DecodeString(rest)
	if err != nil {
		return m, fmt.Errorf("%w: encrypted block is not hex", ErrFormat)
	}
	if block == nil {
		if key == nil {
			return m, ErrNoKey
		}
		if block, err = newCipher(key); err != nil {
			return m, err
		}
	}
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(ct, ct)
	if err := parsePlaintext(string(ct), &m); err != nil {
		return m, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return m, nil
}

// parsePlaintext parses decrypted content: pad|data]…_timestamp. The pipe
// may be missing when the data is empty (pad]_timestamp), as some panels
// send their NULL messages.
func parsePlaintext(pt string, m *Message) error {
	i := strings.IndexAny(pt, "|]")
	if i < 0 || i > maxPad {
		return errors.New("no '|' or ']' after the padding")
	}
	if strings.IndexByte(pt[:i], '[') >= 0 {
		return errors.New("padding holds '['")
	}
	rest := pt[i+1:]
	if pt[i] == '|' {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return errors.New("data has no closing bracket")
		}
		if strings.IndexByte(rest[:j], '[') >= 0 {
			return errors.New("data holds '['")
		}
		m.Data, rest = rest[:j], rest[j+1:]
	}
	return parseTail(rest, m)
}

// parseTail parses what follows the data block: extended blocks, then an
// optional timestamp, then nothing.
func parseTail(s string, m *Message) error {
	for strings.HasPrefix(s, "[") {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return errors.New("extended block has no closing bracket")
		}
		if strings.IndexByte(s[1:j], '[') >= 0 {
			return errors.New("extended block holds '['")
		}
		m.Extended = append(m.Extended, s[1:j])
		s = s[j+1:]
	}
	if s == "" {
		return nil
	}
	if len(s) != timestampLen || s[0] != '_' {
		return fmt.Errorf("unexpected %q after the data", s)
	}
	t, err := parseTimestamp(s[1:])
	if err != nil {
		return err
	}
	m.Timestamp, m.HasTimestamp = t, true
	return nil
}

// parseTimestamp parses HH:MM:SS,MM-DD-YYYY in UTC. It does not use
// time.Parse, which reads ",MM" after the seconds as a fraction of a second.
func parseTimestamp(s string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid HH:MM:SS,MM-DD-YYYY", s)
	}
	for i := range len(timestampLayout) {
		want := timestampLayout[i]
		if want >= '0' && want <= '9' {
			if s[i] < '0' || s[i] > '9' {
				return bad()
			}
		} else if s[i] != want {
			return bad()
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			v = v*10 + int(c-'0')
		}
		return v
	}
	hour, minute, sec := num(0, 2), num(3, 2), num(6, 2)
	month, day, year := num(9, 2), num(12, 2), num(15, 4)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	// time.Date normalizes out-of-range fields; a real date comes back as is.
	if hour > 23 || minute > 59 || sec > 59 || t.Month() != time.Month(month) || t.Day() != day || t.Year() != year {
		return bad()
	}
	return t, nil
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isBlockText reports whether s can sit inside a bracketed block: printable
// ASCII without brackets.
func isBlockText(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '[' || c == ']' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

// isHex reports whether s is lo to hi hex digits.
func isHex(s string, lo, hi int) bool {
	return len(s) >= lo && len(s) <= hi && hexRun(s, false) == len(s)
}

// hexRun counts the hex digits at the start of s, stopping at 'A' when
// stopAtA is set.
func hexRun(s string, stopAtA bool) int {
	for i := range len(s) {
		c := s[i]
		if !isHexDigit(c) || stopAtA && c == 'A' {
			return i
		}
	}
	return len(s)
}

func parseHex16(b []byte) (uint16, bool) {
	var v uint16
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	return v, true
}

const upperHex = "0123456789ABCDEF"

func appendHex16(b []byte, v uint16) []byte {
	return append(b, upperHex[v>>12], upperHex[v>>8&0xF], upperHex[v>>4&0xF], upperHex[v&0xF])
}

func appendHexUpper(b, p []byte) []byte {
	for _, c := range p {
		b = append(b, upperHex[c>>4], upperHex[c&0xF])
	}
	return b
}

func appendSeq(b []byte, seq int) []byte {
	return append(b, byte('0'+seq/1000), byte('0'+seq/100%10), byte('0'+seq/10%10), byte('0'+seq%10))
}
