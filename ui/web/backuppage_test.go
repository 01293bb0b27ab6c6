package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/ui/homekit"
)

const backupPass = "four random words here"

// download makes a backup through the Backup page's form as c; it returns the response
// and the file. The request has no time limit: scrypt under the race detector is slow.
func (r *rig) download(c client, pass, again string) (*http.Response, string) {
	r.t.Helper()
	req := httptest.NewRequest("POST", "/backup/download", strings.NewReader(c.form("passphrase", pass, "passphrase_again", again).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	return r.doUnbounded(req)
}

// doUnbounded is do without fiber's test timeout, for requests that make a backup.
func (r *rig) doUnbounded(req *http.Request) (*http.Response, string) {
	r.t.Helper()
	res, err := r.s.App().Test(req, -1)
	if err != nil {
		r.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestServer_BackupRestoresEverything: a backup downloaded from the running web UI,
// restored onto a fresh install, brings back the installation, users, history, cursors,
// sessions (a signed-in phone stays signed in), the web UI's certificate authority, the
// HomeKit pairings and the secrets; a web server on the restored store is the same one.
func TestServer_BackupRestoresEverything(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	ctx := context.Background()
	for _, line := range []string{"arm away 1234", "disarm 1234", "test 1234"} {
		in, err := hub.ParseLine(r.h.Snapshot().Installation, line)
		if err != nil {
			t.Fatal(err)
		}
		if res := r.h.Do(ctx, in); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	store := r.h.Store()
	if err := store.SetCursor("arc/primary", 2); err != nil {
		t.Fatal(err)
	}
	hk := homekit.NewStore(store)
	if err := hk.Set("keypair", []byte("the bridge's long-term key pair")); err != nil {
		t.Fatal(err)
	}
	if err := hk.Set("AB12CD34.pairing", []byte("the family iPhone's public key")); err != nil {
		t.Fatal(err)
	}
	codeKey, _ := store.Secret("code_key", 32)
	caPEM := r.s.ca.PEM()

	res, file := r.download(anna, backupPass, backupPass)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %s", res.StatusCode, file)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="vakt-backup-`) || !strings.HasSuffix(cd, `.age"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if res.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(file, "age-encryption.org/v1\n") {
		t.Errorf("download: %v, starts %q", res.Header, file[:min(40, len(file))])
	}
	if entries, _ := os.ReadDir(filepath.Dir(store.Path())); len(entries) != 1 {
		t.Errorf("the download left files beside the store: %d entries", len(entries))
	}

	// A fresh install: restore, open, compare.
	fresh := filepath.Join(t.TempDir(), "data", "vakt.db")
	if _, err := hub.Restore(fresh, strings.NewReader(file), backupPass, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := hub.OpenStore(fresh, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	wantInst, _ := store.Installation()
	gotInst, _ := got.Installation()
	if !reflect.DeepEqual(wantInst, gotInst) {
		t.Error("installation (users, codes, passwords) differs")
	}
	wantEv, _ := store.Events(0, 0)
	gotEv, _ := got.Events(0, 0)
	if len(wantEv) < 3 || !reflect.DeepEqual(wantEv, gotEv) {
		t.Errorf("history: %d events restored of %d", len(gotEv), len(wantEv))
	}
	wantSt, _, _ := store.State()
	gotSt, _, _ := got.State()
	if !reflect.DeepEqual(wantSt, gotSt) {
		t.Error("state differs")
	}
	if seq, ok, _ := got.Cursor("arc/primary"); !ok || seq != 2 {
		t.Errorf("cursor: %d %v", seq, ok)
	}
	if sess, ok, _ := got.Session(anna.cookie); !ok || sess.User != "anna" || sess.CSRF != anna.csrf {
		t.Errorf("anna's session: %+v %v", sess, ok)
	}
	for _, k := range []string{"keypair", "AB12CD34.pairing"} {
		want, _ := hk.Get(k)
		if v, err := homekit.NewStore(got).Get(k); err != nil || !bytes.Equal(v, want) {
			t.Errorf("HomeKit %s: %q %v", k, v, err)
		}
	}
	if k, _ := got.Secret("code_key", 32); !bytes.Equal(k, codeKey) {
		t.Error("code key differs: every PIN would be wrong")
	}

	// vakt on the restored store: the same CA (phones keep trusting it), anna still
	// signed in.
	h2, err := hub.New(got, nil, hub.Options{Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Hub: h2, Devices: devices.NewManager(h2, devices.Options{Now: r.clk.Now}), Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s2.ca.PEM(), caPEM) {
		t.Error("the restored vakt has another CA")
	}
	r2 := &rig{t: t, h: h2, s: s2, clk: r.clk}
	if res, body := r2.req(anna, "GET", "/account", nil); res.StatusCode != http.StatusOK || !strings.Contains(body, "anna") {
		t.Errorf("anna's session on the restored vakt: %d", res.StatusCode)
	}
}

// TestServer_BackupPage: the page shows the version, the store schema, the schedule (its
// last backup, or its failure) and the restore command; a short or mistyped passphrase is
// refused on the page; the API makes a backup with an admin's token.
func TestServer_BackupPage(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	res, body := r.req(anna, "GET", "/backup", nil)
	if res.StatusCode != 200 {
		t.Fatalf("backup page: %d", res.StatusCode)
	}
	for _, want := range []string{`<span id="schema">2</span>`, `<span id="version">dev</span>`, "vakt restore -data " + filepath.Dir(r.h.Store().Path()) + " FILE",
		`action="/backup/download"`, "Off. Set backup: dir", `footer class="about">vakt dev · store schema 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("backup page lacks %q", want)
		}
	}
	// Admins' pages carry the version in the footer; a user's do not.
	erik := r.login("erik")
	if _, body := r.req(erik, "GET", "/", nil); strings.Contains(body, `class="about"`) {
		t.Error("a user's page shows the version footer")
	}
	for _, tc := range []struct{ pass, again, want string }{
		{"short", "short", "at least 12 characters"},
		{backupPass, backupPass + "!", "The two passphrases differ"},
	} {
		res, body := r.download(anna, tc.pass, tc.again)
		if res.StatusCode != http.StatusBadRequest || alertText(body) != tc.want && !strings.Contains(alertText(body), tc.want) {
			t.Errorf("passphrase %q/%q: %d %q", tc.pass, tc.again, res.StatusCode, alertText(body))
		}
	}

	// The schedule's status: a success, then a failure.
	dir := t.TempDir()
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte(backupPass), 0o600)
	sched := hub.NewBackupSchedule(r.h.Store(), hub.BackupConfig{Dir: dir, Every: hub.Duration(24 * time.Hour), Keep: 3, PassphraseFile: pf}, nil, nil)
	s, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Hub: r.h, Now: r.clk.Now, Backups: sched, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	rec, err := sched.BackupNow(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, body = r.req(anna, "GET", "/backup", nil)
	if !strings.Contains(body, rec.File) || !strings.Contains(body, `<span id="version">v1.2.3</span>`) || strings.Contains(body, "backup-failed") || strings.Contains(body, "backup-notice") {
		t.Errorf("page after a scheduled backup lacks it: %s", body)
	}
	os.Remove(pf)
	sched.BackupNow(time.Now())
	_, body = r.req(anna, "GET", "/backup", nil)
	if !strings.Contains(body, `id="backup-failed"`) || !strings.Contains(body, "backup passphrase file") || !strings.Contains(body, rec.File) {
		t.Errorf("page after a failed backup does not say so: %s", body)
	}
	// Every admin page says so, linking here; a user's do not.
	if _, body := r.req(anna, "GET", "/", nil); !strings.Contains(body, `id="backup-notice"><a href="/backup">The last scheduled backup failed`) {
		t.Error("the panel does not tell an admin that the backup failed")
	}
	if _, body := r.req(erik, "GET", "/", nil); strings.Contains(body, "backup-notice") {
		t.Error("a user is told about backups")
	}
	// JSON twin.
	res, body = r.api(anna, "GET", "/api/v1/backup", "")
	var v backupView
	if err := json.Unmarshal([]byte(body), &v); err != nil || res.StatusCode != 200 || v.Schema != hub.SchemaVersion || v.Version != "v1.2.3" ||
		!v.Schedule.Enabled || v.Schedule.Error == "" || v.Schedule.Last == nil || v.Schedule.Last.File != rec.File {
		t.Errorf("API: %d %s", res.StatusCode, body)
	}

	// The API with an admin's token: JSON in, the file out; a short passphrase a 400.
	tok := r.token(anna)
	bearer := func(body string) (*http.Response, string) {
		req := httptest.NewRequest("POST", "/api/v1/backup", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return r.doUnbounded(req)
	}
	res, body = bearer(`{"passphrase":"` + backupPass + `"}`)
	if res.StatusCode != 200 || !strings.HasPrefix(body, "age-encryption.org/v1\n") {
		t.Fatalf("API backup: %d", res.StatusCode)
	}
	if _, err := hub.Restore(filepath.Join(t.TempDir(), "vakt.db"), strings.NewReader(body), backupPass, time.Now()); err != nil {
		t.Errorf("the API's backup does not restore: %v", err)
	}
	res, body = bearer(`{"passphrase":"short"}`)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"code":"backup_short"`) {
		t.Errorf("API short passphrase: %d %s", res.StatusCode, body)
	}
}

// token makes an API token for c.
func (r *rig) token(c client) string {
	r.t.Helper()
	res, body := r.api(c, "POST", "/api/v1/tokens", `{"name":"backups"}`)
	var tok struct{ Token string }
	if json.Unmarshal([]byte(body), &tok); res.StatusCode != http.StatusCreated || tok.Token == "" {
		r.t.Fatalf("new token: %d %s", res.StatusCode, body)
	}
	return tok.Token
}
