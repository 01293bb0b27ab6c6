package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
	"vakt/ui/notify"
)

// Notifier is what the notifications page needs of the running *notify.Notifier.
type Notifier interface {
	Status() notify.Status
	Recipient(user string) (notify.Recipient, notify.Source, error)
	SetRecipient(r notify.Recipient) error
	SendTest(ctx context.Context, user, channel string) error
	VAPIDPublicKey() (string, error)
	Subscriptions(user string) ([]notify.PushSubscription, error)
	Subscribe(user string, s notify.PushSubscription) error
	Unsubscribe(user, endpoint string) error
}

var _ Notifier = (*notify.Notifier)(nil)

// notifyView is the notifications page and its JSON twin: one user's settings, how each
// of their channels is doing, and for an admin every user to choose from.
type notifyView struct {
	User      string              `json:"user"`
	Admin     bool                `json:"admin"` // the user is an admin: alarms always on
	Source    notify.Source       `json:"source"`
	Recipient recipientView       `json:"recipient"`
	Classes   []classView         `json:"classes"`
	Available []string            `json:"available"`
	Channels  []notifyChannelView `json:"channels"`
	// Troubles are the failing channels of every user the viewer may see.
	Troubles []string `json:"troubles"`
	// VAPIDKey is the key a browser subscribes to Web Push with; Browsers are the user's
	// subscribed browsers; Own says the page is the viewer's own (a browser subscribes only
	// its own user).
	VAPIDKey string        `json:"vapid_public_key,omitempty"`
	Browsers []browserView `json:"browsers"`
	Own      bool          `json:"-"`
	Users    []hub.User    `json:"-"`
	Running  bool          `json:"running"` // a notifier runs
	Notice   string        `json:"-"`
	Errors   []string      `json:"-"`
	Editable bool          `json:"-"`
}

// recipientView is a recipient without its ntfy token, which is never shown again.
type recipientView struct {
	notify.Recipient
	NtfyToken    string `json:"ntfy_token,omitempty"`
	HasNtfyToken bool   `json:"has_ntfy_token"`
}

// browserView is a subscribed browser, without the endpoint's capability path.
type browserView struct {
	ID      int       `json:"id"`
	Host    string    `json:"host"`
	Agent   string    `json:"agent,omitempty"`
	Created time.Time `json:"created"`
}

type classView struct {
	Class  string `json:"class"`
	On     bool   `json:"on"`
	Forced bool   `json:"forced"` // alarms for an admin
}

type notifyChannelView struct {
	notify.ChannelStatus
	Set bool `json:"set"` // the user has an address for it
}

// notifyTarget is the user whose settings a request is about: the caller, or for an admin
// any user (?user= or the form's user).
func (s *Server) notifyTarget(c *fiber.Ctx, id string) (*hub.User, error) {
	se := sess(c)
	if id == "" {
		id = se.User
	}
	if id != se.User && se.role != hub.RoleAdmin {
		return nil, hub.ErrNotAllowed
	}
	u := userByID(s.hub.Snapshot().Installation, id)
	if u == nil {
		return nil, fiber.ErrNotFound
	}
	return u, nil
}

func (s *Server) notifyView(c *fiber.Ctx, u *hub.User) (notifyView, error) {
	v := notifyView{User: u.ID, Admin: u.Role == hub.RoleAdmin, Running: s.notifier != nil, Troubles: []string{}, Channels: []notifyChannelView{}, Available: []string{},
		Browsers: []browserView{}, Own: u.ID == sess(c).User}
	if sess(c).role == hub.RoleAdmin {
		v.Users = s.hub.Snapshot().Installation.Users
	}
	r := notify.Recipient{User: u.ID}
	if s.notifier != nil {
		var err error
		if r, v.Source, err = s.notifier.Recipient(u.ID); err != nil {
			return v, err
		}
		if v.VAPIDKey, err = s.notifier.VAPIDPublicKey(); err != nil {
			return v, err
		}
		subs, err := s.notifier.Subscriptions(u.ID)
		if err != nil {
			return v, err
		}
		for i, sub := range subs {
			h := sub.Endpoint
			if pu, err := url.Parse(sub.Endpoint); err == nil {
				h = pu.Host
			}
			v.Browsers = append(v.Browsers, browserView{ID: i + 1, Host: h, Agent: sub.Agent, Created: sub.Created})
		}
		st := s.notifier.Status()
		v.Available = st.Available
		for _, ch := range st.Available {
			cv := notifyChannelView{ChannelStatus: notify.ChannelStatus{User: u.ID, Channel: ch}}
			for _, cs := range st.Channels {
				if cs.User == u.ID && cs.Channel == ch {
					cv.ChannelStatus, cv.Set = cs, true
				}
			}
			v.Channels = append(v.Channels, cv)
		}
		for _, cs := range st.Channels {
			if cs.Fault && (cs.User == u.ID || sess(c).role == hub.RoleAdmin) {
				v.Troubles = append(v.Troubles, cs.User+"/"+cs.Channel)
			}
		}
	}
	v.Editable = s.notifier != nil
	v.Recipient = recipientView{Recipient: r, HasNtfyToken: r.NtfyToken != ""}
	v.Recipient.Recipient.NtfyToken = ""
	for _, cl := range notify.Classes {
		forced := cl == notify.ClassAlarm && v.Admin
		v.Classes = append(v.Classes, classView{Class: cl, On: forced || slices.Contains(r.Events, cl), Forced: forced})
	}
	return v, nil
}

// notifyPage shows a user's notification settings.
func (s *Server) notifyPage(c *fiber.Ctx) error {
	u, err := s.notifyTarget(c, c.Query("user"))
	if err != nil {
		return err
	}
	v, err := s.notifyView(c, u)
	if err != nil {
		return err
	}
	switch c.Query("done") {
	case "saved":
		v.Notice = translate(lang(c), "notify_saved")
	case "test":
		v.Notice = translate(lang(c), "notify_test_sent")
	}
	return s.render(c, http.StatusOK, "notify", page{Title: translate(lang(c), "notifications"), Data: v})
}

// apiNotify is the notifications page's JSON twin.
func (s *Server) apiNotify(c *fiber.Ctx) error {
	u, err := s.notifyTarget(c, c.Query("user"))
	if err != nil {
		return err
	}
	v, err := s.notifyView(c, u)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// saveRecipient stores r for its user, keeping the ntfy token unless a new one is given
// or clearToken is set, and the addresses of channels the form does not show.
func (s *Server) saveRecipient(c *fiber.Ctx, r notify.Recipient, clearToken bool) error {
	if s.notifier == nil {
		return invalid("notify: not running")
	}
	u, err := s.notifyTarget(c, r.User)
	if err != nil {
		return err
	}
	r.User = u.ID
	cur, _, err := s.notifier.Recipient(u.ID)
	if err != nil {
		return err
	}
	if r.NtfyToken == "" && !clearToken {
		r.NtfyToken = cur.NtfyToken
	}
	avail := s.notifier.Status().Available
	if !slices.Contains(avail, notify.ChannelPushover) {
		r.PushoverUser = cur.PushoverUser
	}
	if !slices.Contains(avail, notify.ChannelSMS) {
		r.SMS = cur.SMS
	}
	if err := s.notifier.SetRecipient(r); err != nil {
		return err
	}
	s.log.Info("notification settings changed", "user", u.ID, "by", sess(c).User)
	return nil
}

// notifyPost saves the settings from the notifications page.
func (s *Server) notifyPost(c *fiber.Ctx) error {
	form, err := c.MultipartForm()
	var events []string
	if err == nil {
		events = form.Value["events"]
	} else {
		args := c.Request().PostArgs()
		for _, b := range args.PeekMulti("events") {
			events = append(events, string(b))
		}
	}
	r := notify.Recipient{
		User:         strings.Clone(c.FormValue("user")),
		Events:       events,
		Ntfy:         strings.TrimSpace(c.FormValue("ntfy_topic")),
		NtfyServer:   strings.TrimSpace(c.FormValue("ntfy_server")),
		NtfyToken:    strings.TrimSpace(c.FormValue("ntfy_token")),
		PushoverUser: strings.TrimSpace(c.FormValue("pushover_user")),
		SMS:          strings.TrimSpace(c.FormValue("sms")),
	}
	err = s.saveRecipient(c, r, c.FormValue("ntfy_token_clear") != "")
	var fe *notify.FieldError
	if errors.As(err, &fe) {
		u, terr := s.notifyTarget(c, r.User)
		if terr != nil {
			return terr
		}
		v, verr := s.notifyView(c, u)
		if verr != nil {
			return verr
		}
		// Show what was entered, with what is wrong with it.
		v.Recipient.Recipient = r
		v.Recipient.Recipient.NtfyToken = ""
		for i := range v.Classes {
			v.Classes[i].On = v.Classes[i].Forced || slices.Contains(r.Events, v.Classes[i].Class)
		}
		v.Errors = fieldErrors(err)
		return s.render(c, http.StatusBadRequest, "notify", page{Title: translate(lang(c), "notifications"), Data: v})
	}
	if err != nil {
		return err
	}
	return c.Redirect("/notify?"+url.Values{"user": {r.User}, "done": {"saved"}}.Encode(), http.StatusSeeOther)
}

// fieldErrors lists a recipient's bad fields as "field: what is wrong".
func fieldErrors(err error) []string {
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// apiNotifySave saves a user's settings: {"user", "events", "ntfy_topic", "ntfy_server",
// "ntfy_token", "ntfy_token_clear", "pushover_user", "sms"}.
func (s *Server) apiNotifySave(c *fiber.Ctx) error {
	var r struct {
		notify.Recipient
		ClearToken bool `json:"ntfy_token_clear"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	r.Lang = ""
	err := s.saveRecipient(c, r.Recipient, r.ClearToken)
	var fe *notify.FieldError
	if errors.As(err, &fe) {
		return c.Status(http.StatusBadRequest).JSON(fiber.Map{"error": translate(lang(c), "bad_input"), "code": "bad_input", "fields": fieldErrors(err)})
	}
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// sendTest sends a test by one channel of a user; a failure is the channel's, shown with
// its status, not an error of the page.
func (s *Server) sendTest(c *fiber.Ctx, user, channel string) (*hub.User, error, error) {
	if s.notifier == nil {
		return nil, nil, invalid("notify: not running")
	}
	u, err := s.notifyTarget(c, user)
	if err != nil {
		return nil, nil, err
	}
	terr := s.notifier.SendTest(c.UserContext(), u.ID, channel)
	if errors.Is(terr, notify.ErrNoChannel) {
		return nil, nil, invalid("channel")
	}
	s.log.Info("notification test", "user", u.ID, "channel", channel, "by", sess(c).User, "error", terr)
	return u, terr, nil
}

// notifyTestPost is the page's "send test" button.
func (s *Server) notifyTestPost(c *fiber.Ctx) error {
	u, terr, err := s.sendTest(c, strings.Clone(c.FormValue("user")), strings.Clone(c.FormValue("channel")))
	if err != nil {
		return err
	}
	if terr != nil {
		v, err := s.notifyView(c, u)
		if err != nil {
			return err
		}
		v.Errors = []string{translate(lang(c), "notify_test_failed")}
		return s.render(c, http.StatusBadGateway, "notify", page{Title: translate(lang(c), "notifications"), Data: v})
	}
	return c.Redirect("/notify?"+url.Values{"user": {u.ID}, "done": {"test"}}.Encode(), http.StatusSeeOther)
}

// apiNotifyTest sends a test: {"user", "channel"}; 502 with the channel's error when it
// failed.
func (s *Server) apiNotifyTest(c *fiber.Ctx) error {
	var r struct {
		User    string `json:"user"`
		Channel string `json:"channel"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	_, terr, err := s.sendTest(c, r.User, r.Channel)
	if err != nil {
		return err
	}
	if terr != nil {
		return c.Status(http.StatusBadGateway).JSON(fiber.Map{"error": translate(lang(c), "notify_test_failed"), "code": "notify_test_failed"})
	}
	return c.SendStatus(http.StatusNoContent)
}

// apiPushSubscribe subscribes the caller's browser to Web Push: the body is the browser's
// PushSubscription.toJSON() ({"endpoint", "keys": {"p256dh", "auth"}}). A browser always
// subscribes its own user.
func (s *Server) apiPushSubscribe(c *fiber.Ctx) error {
	if s.notifier == nil {
		return invalid("notify: not running")
	}
	var sub notify.PushSubscription
	if err := body(c, &sub); err != nil {
		return err
	}
	sub.Agent = strings.Clone(c.Get(fiber.HeaderUserAgent))
	if len(sub.Agent) > 200 {
		sub.Agent = sub.Agent[:200]
	}
	if err := s.notifier.Subscribe(sess(c).User, sub); err != nil {
		if errors.Is(err, notify.ErrBadSubscription) {
			return invalid("subscription")
		}
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// pushRemovePost removes one of a user's subscribed browsers (by its number on the page):
// the user's own, or any user's for an admin.
func (s *Server) pushRemovePost(c *fiber.Ctx) error {
	if s.notifier == nil {
		return invalid("notify: not running")
	}
	u, err := s.notifyTarget(c, strings.Clone(c.FormValue("user")))
	if err != nil {
		return err
	}
	id, err := formInt(c, "browser")
	if err != nil {
		return err
	}
	subs, err := s.notifier.Subscriptions(u.ID)
	if err != nil {
		return err
	}
	if id < 1 || id > len(subs) {
		return fiber.ErrNotFound
	}
	if err := s.notifier.Unsubscribe(u.ID, subs[id-1].Endpoint); err != nil {
		return err
	}
	s.log.Info("push browser removed", "user", u.ID, "by", sess(c).User)
	return c.Redirect("/notify?"+url.Values{"user": {u.ID}, "done": {"saved"}}.Encode(), http.StatusSeeOther)
}
