package checks

// Codes of docs/protocol.md §5.3/§5.7. A failed check or load reports -Code.
const (
	CodeNologin       = 1  // nologin
	CodeTmpFull       = 6  // tmpfull
	CodeNoop          = 6  // xsessions, swapping, swaping (accepted no-ops)
	CodeSSHDaemon     = 7  // sshdaemon
	CodeWebDaemon     = 8  // webdaemon
	CodeFTPDaemon     = 9  // ftpdaemon
	CodeAFS           = 10 // afs
	CodeGridFTPDaemon = 11 // gridftpdaemon
	CodeLemon         = 12 // lemon, lemonload (obsolete)
	CodeRoger         = 13 // roger
	CodeCommand       = 14 // command
	CodeCollectd      = 15 // collectd, collectd_alarms, collectdload
	CodeConstant      = 16 // load constant (negative value)
	CodeDaemon        = 17 // daemon
	CodeEOS           = 18 // eos
	CodeReboot        = 19 // reboot
)
