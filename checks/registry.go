package checks

// checkRegistry is the one place a check is registered: name → factory.
var checkRegistry = map[string]Factory{
	"nologin":         newNologin,
	"tmpfull":         newTmpFull,
	"xsessions":       newNoop,
	"swapping":        newNoop,
	"swaping":         newNoop,
	"sshdaemon":       newPortDaemon(22, CodeSSHDaemon),
	"webdaemon":       newPortDaemon(80, CodeWebDaemon),
	"ftpdaemon":       newPortDaemon(21, CodeFTPDaemon),
	"gridftpdaemon":   newPortDaemon(2811, CodeGridFTPDaemon),
	"daemon":          newDaemon,
	"afs":             newAFS,
	"roger":           newRoger,
	"command":         newCommand,
	"collectd":        newCollectdCheck,
	"collectd_alarms": newCollectdAlarms,
	"eos":             newEOS,
	"reboot":          newReboot,
	"lemon":           newObsolete(CodeLemon),
	"lemonload":       newObsolete(CodeLemon),
	"collectdload":    newObsolete(CodeCollectd),
}

// loadRegistry maps a load type to its factory.
var loadRegistry = map[string]Factory{
	"constant": newConstant,
	"collectd": newCollectdLoad,
	"lemon":    newObsolete(CodeLemon),
}
