package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Channel names, as cursors and Status name them.
const (
	ChannelNtfy     = "ntfy"
	ChannelPushover = "pushover"
	ChannelSMS      = "sms"
)

// Channel sends a message to one address of its own kind (ntfy topic, Pushover user key,
// phone number).
type Channel interface {
	Send(ctx context.Context, to string, m Message) error
}

// ErrRejected marks a message the service refused for good (a bad topic, a bad user key):
// sending it again cannot help, but it is still a fault, shown until a send succeeds.
var ErrRejected = errors.New("rejected")

// httpTimeout bounds one request to an HTTP service.
const httpTimeout = 15 * time.Second

// statusError turns an HTTP status into an error: 4xx other than 408 and 429 is rejected.
func statusError(service string, resp *http.Response, body []byte) error {
	if len(body) > 200 {
		body = body[:200]
	}
	err := fmt.Errorf("%s: HTTP %d: %s", service, resp.StatusCode, body)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err
}
