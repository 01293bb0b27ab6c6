package notify

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Ntfy publishes to an ntfy server with its HTTP publish API: a POST to /<topic> whose
// body is the message, with the Title, Priority and Tags headers and, given a token,
// Authorization: Bearer.
type Ntfy struct {
	cfg    NtfyConfig
	client *http.Client
}

var _ Channel = (*Ntfy)(nil)

// NewNtfy returns the channel; client nil means one with a timeout.
func NewNtfy(cfg NtfyConfig, client *http.Client) *Ntfy {
	if client == nil {
		client = &http.Client{Timeout: httpTimeout}
	}
	return &Ntfy{cfg: cfg, client: client}
}

// Send publishes m to topic. Alarms go at priority 5 (max), which bypasses the phone's
// do-not-disturb on ntfy's Android app; everything else at 3 (default).
func (n *Ntfy) Send(ctx context.Context, topic string, m Message) error {
	url := strings.TrimRight(n.cfg.Server, "/") + "/" + topic
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(m.Body))
	if err != nil {
		return fmt.Errorf("ntfy: %w", err)
	}
	// Header values are ASCII: ntfy decodes RFC 2047 words, so "Larmade på" survives.
	req.Header.Set("Title", mime.BEncoding.Encode("utf-8", m.Title))
	req.Header.Set("Priority", "3")
	if m.Alarm {
		req.Header.Set("Priority", "5")
	}
	if len(m.Tags) > 0 {
		req.Header.Set("Tags", strings.Join(m.Tags, ","))
	}
	if n.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+n.cfg.Token)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("ntfy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return statusError("ntfy", resp, body)
	}
	return nil
}
