package influencerprofiler

/*
#include "ipf_go.h"
extern void ipfGoLog(int level, char *message);
static void ipf_go_log_tramp(void *user, ipf_log_level level, const char *message) {
	(void)user;
	ipfGoLog((int)level, (char *)message);
}
static void ipf_go_set_log(int on, int max_level) {
	ipf_set_log_callback(on ? ipf_go_log_tramp : NULL, NULL, (ipf_log_level)max_level);
}
*/
import "C"

import "sync"

// LogLevel is the verbosity of a library log line.
type LogLevel int

const (
	LogError LogLevel = 0
	LogWarn  LogLevel = 1
	LogInfo  LogLevel = 2
	LogDebug LogLevel = 3
)

var (
	logMu sync.RWMutex
	logFn func(LogLevel, string)
)

//export ipfGoLog
func ipfGoLog(level C.int, message *C.char) {
	logMu.RLock()
	fn := logFn
	logMu.RUnlock()
	if fn != nil {
		fn(LogLevel(level), C.GoString(message))
	}
}

// SetLogCallback sends the library's log lines up to maxLevel to fn (nil
// turns logging off).  fn may be called from any goroutine or thread that
// runs a library call; set it before starting concurrent work.
func SetLogCallback(fn func(level LogLevel, message string), maxLevel LogLevel) {
	logMu.Lock()
	logFn = fn
	logMu.Unlock()
	on := C.int(0)
	if fn != nil {
		on = 1
	}
	C.ipf_go_set_log(on, C.int(maxLevel))
}
