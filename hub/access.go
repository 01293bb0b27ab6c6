package hub

import (
	"fmt"
	"slices"
	"time"
)

// coded reports whether the input is a command that takes a code.
func (in Input) coded() bool {
	switch in.Kind {
	case InArm, InDisarm, InBypass, InAcknowledge, InGrantInstaller, InServiceMode, InWalkTest, InManualTest, InDeviceCommand, InConfigure:
		return in.Code != ""
	}
	return false
}

// duress sends a silent duress report (Contact ID 121) when a command's code is a duress
// code, before the command does anything: wherever a code is accepted, a duress code is
// too, and the station hears of it even when the command itself then fails (an area
// already disarmed, a locked-out keypad).
func (e *Engine) duress(now time.Time, in Input) {
	if !ValidCode(in.Code) {
		return
	}
	h := HashCredential(e.inst.CodeKey, "code", in.Code)
	for i := range e.inst.Users {
		u := &e.inst.Users[i]
		if u.Duress == "" || !hashEqual(u.Duress, h) {
			continue
		}
		area := in.Area
		if in.Kind == InBypass {
			if zi, ok := e.zoneIdx[in.Zone]; ok {
				area = e.inst.Zones[zi].Area
			}
		}
		if _, ok := e.areaIdx[area]; !ok {
			area = 0
		}
		e.emit(Event{Time: now, Area: area, Kind: KindDuress, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
		return
	}
}

// authenticate finds the user behind a command's credential. duress is set when the code
// was the user's duress code. Wrong codes count towards the interface's lockout.
func (e *Engine) authenticate(now time.Time, in Input) (u *User, duress bool, err error) {
	switch {
	case in.User != "":
		i, ok := e.userIdx[in.User]
		if !ok {
			return nil, false, fmt.Errorf("%w %q", ErrUnknownUser, in.User)
		}
		u = &e.inst.Users[i]
	case in.Code != "" || in.Tag != "":
		iface := in.Iface
		if iface == "" {
			iface = in.How.String()
		}
		if l := e.st.Lockouts[iface]; l != nil && now.Before(l.Until) {
			return nil, false, fmt.Errorf("%w until %s", ErrLockedOut, l.Until.Format("15:04:05"))
		}
		if in.Code != "" && !ValidCode(in.Code) {
			return nil, false, ErrMalformedCode
		}
		var h string
		if in.Code != "" {
			h = HashCredential(e.inst.CodeKey, "code", in.Code)
		} else {
			h = HashCredential(e.inst.CodeKey, "tag", in.Tag)
		}
	find:
		for i := range e.inst.Users {
			cand := &e.inst.Users[i]
			list := cand.Codes
			if in.Tag != "" {
				list = cand.Tags
			}
			for _, c := range list {
				if hashEqual(c, h) {
					u = cand
					break find
				}
			}
			if in.Code != "" && cand.Duress != "" && hashEqual(cand.Duress, h) {
				u, duress = cand, true
				break find
			}
		}
		if u == nil {
			e.wrongCode(now, iface, in)
			return nil, false, ErrWrongCode
		}
		if _, ok := e.st.Lockouts[iface]; ok {
			delete(e.st.Lockouts, iface)
			e.changed = true
		}
	default:
		return nil, false, ErrNoCredential
	}
	if u.Role == RoleInstaller && !now.Before(e.st.InstallerUntil) {
		return nil, false, fmt.Errorf("%s: %w", u.ID, ErrInstallerNotActive)
	}
	if !u.activeAt(now) {
		return nil, false, fmt.Errorf("%s: %w outside the user's time windows", u.ID, ErrNotAllowed)
	}
	return u, duress, nil
}

// wrongCode counts a wrong code: 5 within 10 minutes lock the interface for 90 s, doubling
// with each lockout up to 15 minutes (DESIGN §2 item 11).
func (e *Engine) wrongCode(now time.Time, iface string, in Input) {
	if e.st.Lockouts == nil {
		e.st.Lockouts = map[string]*Lockout{}
	}
	l := e.st.Lockouts[iface]
	if l == nil {
		l = &Lockout{}
		e.st.Lockouts[iface] = l
	}
	l.Wrong = slices.DeleteFunc(l.Wrong, func(t time.Time) bool { return now.Sub(t) >= 10*time.Minute })
	l.Wrong = append(l.Wrong, now)
	e.emit(Event{Time: now, Area: in.Area, Kind: KindWrongCode, How: in.How, Note: iface})
	if len(l.Wrong) < 5 {
		return
	}
	l.Wrong = nil
	l.Level++
	d := lockoutLength(l.Level)
	l.Until = now.Add(d)
	e.emit(Event{Time: now, Area: in.Area, Kind: KindWrongCodes, Report: true, How: in.How, Note: fmt.Sprintf("%s locked for %s", iface, d)})
}

// operator authenticates a command for area n and checks the user may operate it.
func (e *Engine) operator(now time.Time, in Input, n int, arming bool) (*User, bool, error) {
	u, duress, err := e.authenticate(now, in)
	if err != nil {
		return nil, false, err
	}
	if n != 0 && !u.mayUseArea(n) {
		return nil, false, fmt.Errorf("%s may not operate area %d: %w", u.ID, n, ErrNotAllowed)
	}
	if !arming && u.ArmOnly {
		return nil, false, fmt.Errorf("%s may only arm: %w", u.ID, ErrNotAllowed)
	}
	return u, duress, nil
}

func (e *Engine) grantInstaller(now time.Time, in Input) error {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return err
	}
	if u.Role != RoleAdmin {
		return fmt.Errorf("%s: %w: only an admin grants installer access", u.ID, ErrNotAllowed)
	}
	if !in.Active {
		if e.st.InstallerUntil.IsZero() {
			return ErrInstallerNotActive
		}
		e.st.InstallerUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindInstallerAccess, Restore: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "revoked"})
		return nil
	}
	d := or(in.Duration, DefaultInstaller)
	if d < 0 || d > 7*24*time.Hour {
		return fmt.Errorf("%w: installer grant %s outside 0–168h", ErrBadInput, d)
	}
	e.st.InstallerUntil = now.Add(d)
	e.emit(Event{Time: now, Kind: KindInstallerAccess, UserNumber: u.Number, User: u.ID, How: in.How, Note: "granted for " + d.String()})
	return nil
}

func (e *Engine) installer(now time.Time, in Input) (*User, error) {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return nil, err
	}
	if u.Role != RoleInstaller && u.Role != RoleAdmin {
		return nil, fmt.Errorf("%s: %w: installer or admin only", u.ID, ErrNotAllowed)
	}
	return u, nil
}
