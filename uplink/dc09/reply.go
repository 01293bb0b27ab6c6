package dc09

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
)

// nakToken starts every NAK body, framed or not.
const nakToken = `"NAK"`

// reply is a receiver's answer as the Client read it, with what it had to overlook.
type reply struct {
	Message
	// header is the text between the sequence and the data block when it did not read
	// as DC-09's R, L and # fields (say "NoneL0#1234"): then Receiver and Line are empty
	// and only the account was taken from it.
	header string
	// unframed reports a reply without LF, CRC, length or CR.
	unframed bool
}

// decodeReply reads a receiver's reply the way receivers in the field write them, not
// only as the standard does. What decides the exchange is strict: the CRC and length
// where the frame has them, the token, the sequence, the account and, for an encrypted
// reply, the content under our key. What receivers get wrong is overlooked: the receiver
// and line fields (written as "None", left out, or made up), and the framing of a NAK
// ("NAK" alone, with no LF, CRC, length or CR, for an account the receiver does not know).
func decodeReply(raw []byte, key []byte, block cipher.Block) (reply, error) {
	f := bytes.TrimLeft(raw, "\n\x00")
	f = bytes.TrimRight(f, "\r\n\x00")
	if bytes.HasPrefix(f, []byte(`"`)) {
		// No CRC and no length: nothing to check the reply against but its content.
		r := reply{unframed: true}
		if bytes.HasPrefix(f, []byte(nakToken)) {
			m, _ := parseBody(string(f), key, block)
			m.ID = IDNAK
			r.Message = m
			return r, nil
		}
		m, hdr, err := parseReplyBody(string(f), key, block)
		if err != nil {
			return r, fmt.Errorf("decode unframed reply: %w", err)
		}
		r.Message, r.header = m, hdr
		return r, nil
	}
	if len(f) >= 8 && bytes.HasPrefix(f[8:], []byte(nakToken)) {
		// A NAK is a NAK even when its frame is damaged: it only makes us send again.
		m, _ := decode(f, key, block)
		m.ID = IDNAK
		return reply{Message: m}, nil
	}
	m, err := decode(f, key, block)
	if err == nil {
		return reply{Message: m}, nil
	}
	if !errors.Is(err, ErrFormat) || len(f) < 8 {
		return reply{}, err
	}
	// The frame's CRC and length held (decode checks them first); its header did not
	// read as DC-09's.
	m, hdr, err := parseReplyBody(string(f[8:]), key, block)
	if err != nil {
		return reply{}, fmt.Errorf("decode frame: %w", err)
	}
	return reply{Message: m, header: hdr}, nil
}

// parseReplyBody parses a reply body whose header fields between the sequence and the
// data block may be anything: it keeps the account (after '#') and parses the rest as
// the standard has it. hdr is the header as it came, when it was not standard.
func parseReplyBody(b string, key []byte, block cipher.Block) (m Message, hdr string, err error) {
	if m, err := parseBody(b, key, block); err == nil {
		return m, "", nil
	}
	// "ID"seq<header>[…: find the header's end, the data block's '['.
	if len(b) < 2 || b[0] != '"' {
		return m, "", fmt.Errorf("%w: body does not start with a quoted id", ErrFormat)
	}
	end := strings.IndexByte(b[1:], '"')
	if end < 0 || len(b) < end+2+4 {
		return m, "", fmt.Errorf("%w: no id and sequence", ErrFormat)
	}
	start := end + 2 + 4 // after the closing quote and the four-digit sequence
	open := strings.IndexByte(b[start:], '[')
	if open < 0 {
		return m, "", fmt.Errorf("%w: no data block", ErrFormat)
	}
	hdr = b[start : start+open]
	acct := ""
	if i := strings.LastIndexByte(hdr, '#'); i >= 0 {
		acct = hdr[i+1:]
	}
	if !isHex(acct, 3, 16) {
		return m, hdr, fmt.Errorf("%w: reply header %q holds no account", ErrFormat, hdr)
	}
	// Rebuild the header as the standard writes it, with a line placeholder, and parse
	// that: the rest of the reply is checked as strictly as ever.
	m, err = parseBody(b[:start]+"L0#"+acct+b[start+open:], key, block)
	if err != nil {
		return m, hdr, err
	}
	m.Receiver, m.Line = "", ""
	return m, hdr, nil
}
