package notify

import (
	"fmt"
	"strings"
	"time"

	"vakt/hub"
)

// The kinds of news a recipient chooses from (Recipient.Events).
const (
	ClassArming    = "arming"     // arm and disarm, with who and how
	ClassAlarm     = "alarm"      // burglary, fire, panic, tamper: always on for admins
	ClassNotArmed  = "not_armed"  // an exit delay was cancelled, or a scheduled arming refused
	ClassSchedule  = "schedule"   // a scheduled arming in 5 minutes, or a schedule missed
	ClassMains     = "mains"      // mains lost, restored, and the reminder
	ClassBattery   = "battery"    // a device's or the hub's battery is low
	ClassMissing   = "missing"    // a device is missing, or back
	ClassPathFault = "path_fault" // a path to the monitoring station failed, or is back
)

// Class returns the kind of news ev is, and false for an event nobody is notified of.
// Duress is never notified: whoever forced the disarm may be holding the phone.
func Class(ev hub.Event) (string, bool) {
	switch ev.Kind {
	case hub.KindArm, hub.KindStayArm, hub.KindDisarm:
		return ClassArming, true
	case hub.KindBurglary, hub.KindFire, hub.KindPanic, hub.KindTamper:
		// Only reported alarms: an entry-route alarm in its local warning is not yet one,
		// and one disarmed then was an accident (DESIGN §2 item 7).
		return ClassAlarm, !ev.Restore && ev.Report
	case hub.KindArmingCancelled:
		return ClassNotArmed, true
	case hub.KindScheduleWarning, hub.KindScheduleMissed:
		return ClassSchedule, true
	case hub.KindMainsLost:
		// The loss and the restore are notified at once; the station's delayed report of
		// the same loss (no How) is not news to the family.
		return ClassMains, ev.How == hub.HowSystem
	case hub.KindDeviceBatteryLow, hub.KindHubBatteryLow:
		return ClassBattery, !ev.Restore
	case hub.KindDeviceMissing:
		return ClassMissing, true
	case hub.KindUplinkFault:
		return ClassPathFault, true
	}
	return "", false
}

// Message is one notification, in the recipient's language.
type Message struct {
	Title string
	Body  string
	// Alarm asks the channel for its most urgent delivery (ntfy priority 5, Pushover 2).
	Alarm bool
	// Tags are ntfy tags (emoji short codes and words).
	Tags []string
	// Area is an alarm's area, for its acknowledgement; AckHint tells how to acknowledge
	// it by SMS reply.
	Area    int
	AckHint string
}

// Names resolves the ids an event carries into the names the family uses.
type Names interface {
	UserName(id string) string
	AreaName(number int) string
}

// Text writes event texts in one language.
type Text struct {
	Lang  string
	Names Names
	// Loc is the time zone of the times in the texts; nil means time.Local.
	Loc *time.Location
}

type words struct {
	how                                                     map[hub.Method]string
	mode                                                    map[hub.Mode]string
	armed, disarmed, at                                     string
	burglary, fire, panic, tamper                           string
	notArmed, notArmedBody                                  string
	scheduleRefused, scheduleSoon, scheduleSoonBody         string
	notReady, scheduleMissed                                string
	reasons, missed                                         map[string]string
	mainsLost, mainsLostBody, mainsBack, mainsBackBody      string
	reminder, reminderBody                                  string
	battery, hubBattery, missing, missingBack               string
	pathFault, pathBack, pathFaultBody, pathBackBody, tests string
	ackHint                                                 string
}

var lang = map[string]words{
	"sv": {
		how: map[hub.Method]string{hub.HowCode: "med kod", hub.HowTag: "med tagg", hub.HowWeb: "i webben", hub.HowHomeKit: "med HomeKit",
			hub.HowKeypad: "på knappsatsen", hub.HowLock: "med låset", hub.HowRemote: "på distans", hub.HowSchedule: "enligt schema", hub.HowSystem: "automatiskt",
			hub.HowHomeAssistant: "från Home Assistant", hub.HowSMS: "med sms", hub.HowPushover: "i Pushover"},
		mode:  map[hub.Mode]string{hub.ModeArmedAway: "borta", hub.ModeArmedHome: "hemma (skalskydd)", hub.ModeArmedNight: "natt"},
		armed: "larmade på", disarmed: "larmade av", at: "",
		burglary: "INBROTT", fire: "BRAND", panic: "ÖVERFALLSLARM", tamper: "SABOTAGE",
		notArmed: "EJ LARMAT", notArmedBody: "Tillkopplingen avbröts",
		scheduleRefused: "Schemalagd tillkoppling nekades", scheduleSoon: "Larmar på om 5 minuter", scheduleSoonBody: "%s larmas på (%s) enligt schema %s",
		notReady: "inte redo", scheduleMissed: "Schemat kördes inte",
		missed: map[string]string{"scheduled arming away": "schemalagd tillkoppling (borta)", "scheduled arming home": "schemalagd tillkoppling (skalskydd)",
			"scheduled arming night": "schemalagd tillkoppling (natt)", "scheduled disarming": "schemalagd frånkoppling",
			"scheduled switching on": "schemalagt tillslag", "scheduled switching off": "schemalagt frånslag",
			"not done": "gjordes inte", "vakt was not running then": "vakt var inte igång då", "an alarm is in progress": "ett larm pågår",
			"not by the schedule": "inte av schemat", "armed by": "larmat av",
			"Mon": "mån", "Tue": "tis", "Wed": "ons", "Thu": "tor", "Fri": "fre", "Sat": "lör", "Sun": "sön"},
		reasons: map[string]string{"open": "öppen", "tamper": "sabotage", "missing": "saknas", "fault": "fel", "mains lost": "strömavbrott",
			"hub battery low": "lågt reservbatteri", "station path fault": "fel på larmvägen", "siren fault": "fel på sirenen", "disk fault": "diskfel",
			"device bus lost": "enhetsbryggan borta", "an alarm is sounding": "ett larm ljuder", "a walk test is running": "gångtest pågår",
			"the area is in service mode": "området är i serviceläge"},
		mainsLost: "Strömavbrott", mainsLostBody: "Centralen går på batteri sedan %s",
		mainsBack: "Strömmen är tillbaka", mainsBackBody: "Centralen har ström igen %s",
		reminder: "Fortfarande strömavbrott", reminderBody: "Strömmen har varit borta i %s, sedan %s",
		battery: "Lågt batteri", hubBattery: "centralens reservbatteri",
		missing: "Enhet saknas", missingBack: "Enheten hörs igen",
		pathFault: "Fel på larmvägen", pathBack: "Larmvägen fungerar igen",
		pathFaultBody: "Larmvägen %s till larmcentralen fungerar inte %s", pathBackBody: "Larmvägen %s till larmcentralen fungerar igen %s",
		tests: "Testmeddelande från vakt", ackHint: "Svara OK för att kvittera.",
	},
	"en": {
		how: map[hub.Method]string{hub.HowCode: "with code", hub.HowTag: "with tag", hub.HowWeb: "from the web", hub.HowHomeKit: "with HomeKit",
			hub.HowKeypad: "at the keypad", hub.HowLock: "with the lock", hub.HowRemote: "remotely", hub.HowSchedule: "on schedule", hub.HowSystem: "automatically",
			hub.HowHomeAssistant: "from Home Assistant", hub.HowSMS: "by SMS", hub.HowPushover: "in Pushover"},
		mode:  map[hub.Mode]string{hub.ModeArmedAway: "away", hub.ModeArmedHome: "home", hub.ModeArmedNight: "night"},
		armed: "armed", disarmed: "disarmed", at: "at ",
		burglary: "BURGLARY", fire: "FIRE", panic: "PANIC ALARM", tamper: "TAMPER",
		notArmed: "NOT ARMED", notArmedBody: "Arming was cancelled",
		scheduleRefused: "The scheduled arming was refused", scheduleSoon: "Arming in 5 minutes", scheduleSoonBody: "%s arms (%s) on schedule %s",
		notReady: "not ready", scheduleMissed: "Schedule not run",
		mainsLost: "Mains lost", mainsLostBody: "The hub is on battery since %s",
		mainsBack: "Mains restored", mainsBackBody: "The hub has mains again at %s",
		reminder: "Mains still out", reminderBody: "Mains has been out for %s, since %s",
		battery: "Low battery", hubBattery: "the hub's backup battery",
		missing: "Device missing", missingBack: "Device heard again",
		pathFault: "Station path fault", pathBack: "Station path restored",
		pathFaultBody: "The path %s to the monitoring station is down at %s", pathBackBody: "The path %s to the monitoring station works again at %s",
		tests: "Test message from vakt", ackHint: "Reply OK to acknowledge.",
	},
}

func (t Text) words() words {
	if w, ok := lang[t.Lang]; ok {
		return w
	}
	return lang["en"]
}

func (t Text) clock(at time.Time) string {
	loc := t.Loc
	if loc == nil {
		loc = time.Local
	}
	return at.In(loc).Format("15:04")
}

func (t Text) user(id string) string {
	if t.Names != nil {
		if n := t.Names.UserName(id); n != "" {
			return n
		}
	}
	return id
}

func (t Text) area(n int) string {
	if t.Names != nil && n != 0 {
		return t.Names.AreaName(n)
	}
	return ""
}

// where names the zone or device of ev, and its area when it has one.
func (t Text) where(ev hub.Event) string {
	s := ev.ZoneName
	switch {
	case s != "":
	case ev.DeviceName != "":
		s = ev.DeviceName
	case ev.Device != "":
		s = ev.Device
	case ev.Zone != 0:
		s = fmt.Sprintf("zon %d", ev.Zone)
		if t.Lang != "sv" {
			s = fmt.Sprintf("zone %d", ev.Zone)
		}
	}
	if a := t.area(ev.Area); a != "" {
		if s == "" {
			return a
		}
		return s + " (" + a + ")"
	}
	return s
}

// Message returns the notification of ev; ok is false for an event nobody is notified of.
func (t Text) Message(ev hub.Event) (Message, bool) {
	class, ok := Class(ev)
	if !ok {
		return Message{}, false
	}
	w, at := t.words(), t.clock(ev.Time)
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, " ")
	}
	switch class {
	case ClassArming:
		verb, title, tags := w.armed, w.armed, []string{"lock"}
		if ev.Kind == hub.KindDisarm {
			verb, title, tags = w.disarmed, w.disarmed, []string{"unlock"}
		} else if m := w.mode[ev.Mode]; m != "" {
			verb += " (" + m + ")"
		}
		who := t.user(ev.User)
		if who == "" {
			who = "vakt"
		}
		area := t.area(ev.Area)
		if area != "" {
			title = area + ": " + title
		}
		return Message{Title: capital(title), Body: join(who, verb, w.how[ev.How], w.at+at), Tags: tags}, true
	case ClassAlarm:
		title, tags := w.burglary, []string{"rotating_light"}
		switch ev.Kind {
		case hub.KindFire:
			title, tags = w.fire, []string{"fire"}
		case hub.KindPanic:
			title = w.panic
		case hub.KindTamper:
			title, tags = w.tamper, []string{"warning"}
		}
		return Message{Title: title, Body: join(t.where(ev), w.at+at), Alarm: true, Tags: tags, Area: ev.Area, AckHint: w.ackHint}, true
	case ClassNotArmed:
		if ev.How == hub.HowSchedule {
			why := t.reasons(strings.TrimPrefix(ev.Note, hub.ScheduleRefusedNote))
			return Message{Title: w.notArmed, Body: join(w.scheduleRefused, "("+t.where(ev)+"):", why, w.at+at), Tags: []string{"warning"}}, true
		}
		zone := ev.ZoneName
		if zone == "" {
			zone = t.where(ev)
		}
		body := w.notArmedBody + ": " + zone
		if a := t.area(ev.Area); a != "" && ev.ZoneName != "" {
			body += " (" + a + ")"
		}
		return Message{Title: w.notArmed, Body: join(body, w.at+at), Tags: []string{"warning"}}, true
	case ClassSchedule:
		if ev.Kind == hub.KindScheduleMissed {
			body := t.missed(ev.Note)
			if where := t.where(ev); where != "" {
				body = where + ": " + body
			}
			return Message{Title: w.scheduleMissed, Body: body, Tags: []string{"calendar"}}, true
		}
		// The note says "arming night at 22:00[; not ready: open: Bedroom window]".
		note, notReady, _ := strings.Cut(ev.Note, hub.ScheduleNotReadyNote)
		when := note[strings.LastIndex(note, " ")+1:]
		body := fmt.Sprintf(w.scheduleSoonBody, t.where(ev), w.mode[ev.Mode], w.at+when)
		if notReady != "" {
			body += "; " + w.notReady + ": " + t.reasons(notReady)
		}
		return Message{Title: w.scheduleSoon, Body: body, Tags: []string{"alarm_clock"}}, true
	case ClassMains:
		if ev.Restore {
			return Message{Title: w.mainsBack, Body: fmt.Sprintf(w.mainsBackBody, at), Tags: []string{"electric_plug"}}, true
		}
		return Message{Title: w.mainsLost, Body: fmt.Sprintf(w.mainsLostBody, at), Tags: []string{"zap"}}, true
	case ClassBattery:
		what := t.where(ev)
		if ev.Kind == hub.KindHubBatteryLow {
			what = w.hubBattery
		}
		return Message{Title: w.battery, Body: join(what, w.at+at), Tags: []string{"battery"}}, true
	case ClassMissing:
		title := w.missing
		if ev.Restore {
			title = w.missingBack
		}
		return Message{Title: title, Body: join(t.where(ev), w.at+at), Tags: []string{"satellite"}}, true
	case ClassPathFault:
		if ev.Restore {
			return Message{Title: w.pathBack, Body: fmt.Sprintf(w.pathBackBody, ev.Device, at), Tags: []string{"white_check_mark"}}, true
		}
		return Message{Title: w.pathFault, Body: fmt.Sprintf(w.pathFaultBody, ev.Device, at), Tags: []string{"warning"}}, true
	}
	return Message{}, false
}

// reasons translates the reasons a refused or unready arming lists ("open: Bedroom window;
// missing: Garage door", as hub.JoinReasons writes them) into the language: the words, not
// the names the family gave its zones and devices.
func (t Text) reasons(s string) string {
	w := t.words()
	if w.reasons == nil {
		return s
	}
	parts := strings.Split(s, "; ")
	for i, p := range parts {
		word, names, ok := strings.Cut(p, ": ")
		if tr, known := w.reasons[word]; known {
			word = tr
		}
		if ok {
			parts[i] = word + ": " + names
		} else {
			parts[i] = word
		}
	}
	return strings.Join(parts, "; ")
}

// missed translates the note of a missed schedule ("scheduled arming night at Wed 22:00
// not done: vakt was not running then", as the hub writes it) into the language.
func (t Text) missed(note string) string {
	w := t.words()
	if w.missed == nil {
		return note
	}
	what, rest, ok := strings.Cut(note, " at ")
	if !ok {
		return note
	}
	when, why, ok := strings.Cut(rest, " not done: ")
	if !ok {
		return note
	}
	tr := func(s string) string {
		if v, ok := w.missed[s]; ok {
			return v
		}
		return s
	}
	if day, clock, ok := strings.Cut(when, " "); ok {
		when = tr(day) + " " + clock
	}
	if by, ok := strings.CutPrefix(why, "armed by "); ok {
		who, _, _ := strings.Cut(by, ", not by the schedule")
		why = tr("armed by") + " " + who + ", " + tr("not by the schedule")
	} else {
		why = tr(why)
	}
	return tr(what) + " " + when + " " + tr("not done") + ": " + why
}

// MainsReminder returns the reminder that mains has been out since lost for d.
func (t Text) MainsReminder(lost time.Time, d time.Duration) Message {
	w := t.words()
	return Message{Title: w.reminder, Body: fmt.Sprintf(w.reminderBody, hours(d), t.clock(lost)), Tags: []string{"zap"}}
}

// Test returns the message a channel's "send test" sends.
func (t Text) Test(now time.Time) Message {
	w := t.words()
	return Message{Title: w.tests, Body: w.tests + " " + t.clock(now), Tags: []string{"test_tube"}}
}

func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return d.Round(time.Minute).String()
}

func capital(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}
