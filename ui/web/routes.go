package web

import (
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"vakt/hub"
)

// route is one row of the route table: who may call it. A nil roles list is public.
type route struct {
	method string
	path   string
	roles  []hub.Role
	handle fiber.Handler
}

var (
	// everyone signed in; the engine still decides what each may do.
	everyone = []hub.Role{hub.RoleAdmin, hub.RoleUser, hub.RoleLimited, hub.RoleInstaller}
	// readers may read the history: not limited users (children, the cleaner).
	readers = []hub.Role{hub.RoleAdmin, hub.RoleUser, hub.RoleInstaller}
	// owners operate and manage; a limited user only what the engine lets it.
	admins = []hub.Role{hub.RoleAdmin}
)

// routeTable is every route × the roles allowed on it, in one place (tested row by row).
func (s *Server) routeTable() []route {
	get, post := fiber.MethodGet, fiber.MethodPost
	routes := []route{
		{get, "/login", nil, s.loginPage},
		{post, "/login", nil, s.login},
		{get, "/login/link", nil, s.loginLink},
		{get, "/setup", nil, s.setupPage},
		{post, "/setup", nil, s.setup},
		{post, "/logout", everyone, s.logout},
		{get, "/account", everyone, s.accountPage},
		{post, "/account/password", everyone, s.passwordPost},
		{post, "/account/lang", everyone, s.langPost},
		{post, "/sessions/:id/revoke", everyone, s.revokePost},
		{get, "/api/v1/sessions", everyone, s.apiSessions},
		{post, "/api/v1/sessions/:id/revoke", everyone, s.apiRevoke},
		{post, "/api/v1/password", everyone, s.apiOwnPassword},
		{post, "/api/v1/lang", everyone, s.apiOwnLang},
		{get, "/away", everyone, s.awayPage},
		{post, "/away/wireguard", admins, s.wireguardPost},
		{post, "/api/v1/wireguard", admins, s.wireguardPost},

		{get, "/ca", nil, s.caPage},
		{get, "/ca.crt", nil, s.caCert},
		{get, "/ca.pem", nil, s.caPEM},
		{get, "/api/v1/ca", nil, s.apiCA},
		{get, "/manifest.webmanifest", nil, s.manifest},
		{get, "/sw.js", nil, s.serviceWorker},
		{get, "/offline", nil, s.offline},

		{get, "/", everyone, s.panel},
		{post, "/arm", everyone, s.arm},
		{post, "/disarm", everyone, s.disarm},
		{post, "/bypass", everyone, s.bypass},
		{post, "/ack", everyone, s.ack},
		{post, "/seen", everyone, s.seen},
		{post, "/devices/:id/switch", everyone, s.switchPlug},
		{post, "/devices/:id/lock", everyone, s.lockDoor},
		{get, "/events", everyone, s.events},
		{get, "/history", readers, s.history},
		{get, "/history.csv", readers, s.historyCSV},

		{get, "/api/v1/state", everyone, s.apiState},
		{post, "/api/v1/arm", everyone, s.apiArm},
		{post, "/api/v1/disarm", everyone, s.apiDisarm},
		{post, "/api/v1/bypass", everyone, s.apiBypass},
		{post, "/api/v1/ack", everyone, s.apiAck},
		{post, "/api/v1/seen", everyone, s.apiSeen},
		{get, "/api/v1/history", readers, s.apiHistory},
		{get, "/api/v1/devices", everyone, s.apiDevices},
		{get, "/notify", everyone, s.notifyPage},
		{post, "/notify", everyone, s.notifyPost},
		{post, "/notify/test", everyone, s.notifyTestPost},
		{get, "/api/v1/notify", everyone, s.apiNotify},
		{post, "/api/v1/notify", everyone, s.apiNotifySave},
		{post, "/api/v1/notify/test", everyone, s.apiNotifyTest},
		{post, "/api/v1/notify/webpush", everyone, s.apiPushSubscribe},
		{post, "/notify/webpush/remove", everyone, s.pushRemovePost},
		{post, "/api/v1/devices/:id/switch", everyone, s.apiSwitch},
		{post, "/api/v1/devices/:id/lock", everyone, s.apiLock},
		{get, "/api/v1/events", everyone, s.apiEvents},
		{post, "/api/v1/tokens", everyone, s.apiNewToken},
		{post, "/api/v1/users/:id/password", admins, s.apiSetPassword},

		// Backup (backuppage.go): a backup holds every secret of the house, so admins only.
		{get, "/backup", admins, s.backupPage},
		{post, "/backup/download", admins, s.backupDownload},
		{get, "/api/v1/backup", admins, s.apiBackup},
		{post, "/api/v1/backup", admins, s.apiBackupDownload},

		// Devices, users and the installer's tools (admin.go, devicespage.go, users.go, installer.go).
		{get, "/devices", everyone, s.devicesPage},
		{post, "/devices/:id/edit", installers, s.granted(s.deviceEditPost)},
		{post, "/devices/:id/remove", installers, s.granted(s.deviceRemovePost)},
		{get, "/users", admins, s.usersPage},
		{post, "/users", admins, s.userAddPost},
		{post, "/users/installer", admins, s.grantPost},
		{post, "/users/:id/edit", admins, s.userEditPost},
		{post, "/users/:id/remove", admins, s.userRemovePost},
		{get, "/installer", installers, s.granted(s.installerPage)},
		{post, "/installer/pairing", installers, s.granted(s.pairingPost)},
		{post, "/installer/adopt", installers, s.granted(s.adoptPost)},
		{post, "/installer/settings", installers, s.granted(s.settingsPost)},
		{post, "/installer/area", installers, s.granted(s.areaPost)},
		{post, "/installer/plan/contact", installers, s.granted(s.contactPost)},
		{post, "/installer/plan/move", installers, s.granted(s.planMovePost)},
		{post, "/installer/walktest", installers, s.granted(s.walkTestPost)},
		{post, "/installer/service", installers, s.granted(s.servicePost)},
		{post, "/installer/test", installers, s.granted(s.testPost)},
		{get, "/installer/installation.yaml", installers, s.granted(s.export)},
		{post, "/installer/import", installers, s.granted(s.importPost)},
		{post, "/installer/import/apply", installers, s.granted(s.importApplyPost)},
		// Schedules (schedules.go): auto-arm per area and plug times, edited by an admin or
		// the granted installer; every change through Hub.Configure, logged.
		{get, "/schedules", installers, s.granted(s.schedulesPage)},
		{post, "/schedules", installers, s.granted(s.schedulePost)},
		{post, "/schedules/remove", installers, s.granted(s.scheduleRemovePost)},
		{post, "/schedules/timezone", installers, s.granted(s.timezonePost)},
		{get, "/api/v1/schedules", installers, s.granted(s.apiSchedules)},
		{post, "/api/v1/schedules", installers, s.granted(s.apiSchedulesSet)},
		{post, "/installer/homekit/reset", admins, s.homekitResetPost},
		{get, "/api/v1/devices/detail", everyone, s.apiDeviceList},
		{post, "/api/v1/devices/:id", installers, s.granted(s.apiDeviceEdit)},
		{post, "/api/v1/devices/:id/remove", installers, s.granted(s.apiDeviceRemove)},
		{get, "/api/v1/users", admins, s.apiUsers},
		{post, "/api/v1/users", admins, s.apiUserAdd},
		{post, "/api/v1/installer/grant", admins, s.apiGrant},
		{post, "/api/v1/users/:id", admins, s.apiUserEdit},
		{post, "/api/v1/users/:id/remove", admins, s.apiUserRemove},
		{get, "/api/v1/installer", installers, s.granted(s.apiInstaller)},
		{post, "/api/v1/installer/pairing", installers, s.granted(s.apiPairing)},
		{post, "/api/v1/installer/adopt", installers, s.granted(s.apiAdopt)},
		{post, "/api/v1/installer/settings", installers, s.granted(s.apiSettings)},
		{post, "/api/v1/installer/area", installers, s.granted(s.apiArea)},
		{post, "/api/v1/installer/plan/contact", installers, s.granted(s.apiContact)},
		{post, "/api/v1/installer/plan/move", installers, s.granted(s.apiPlanMove)},
		{post, "/api/v1/installer/walktest", installers, s.granted(s.apiWalkTest)},
		{post, "/api/v1/installer/service", installers, s.granted(s.apiServiceMode)},
		{post, "/api/v1/installer/test", installers, s.granted(s.apiTransmissionTest)},
		{get, "/api/v1/installer/installation.yaml", installers, s.granted(s.export)},
		{post, "/api/v1/installer/import", installers, s.granted(s.importPost)},
		{post, "/api/v1/installer/import/apply", installers, s.granted(s.importApplyPost)},
		{post, "/api/v1/installer/homekit/reset", admins, s.apiHomeKitReset},
	}
	if s.metrics != nil {
		// Prometheus scrapes with an admin's API token (metrics.go).
		routes = append(routes, route{get, "/metrics", admins, adaptor.HTTPHandler(s.metrics)})
	}
	return routes
}

// allowed says whether role may call the route.
func (r route) allowed(role hub.Role) bool { return slices.Contains(r.roles, role) }
