//go:build linux

package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// NS is a network namespace with only a loopback interface, kept alive by
// an open handle until Close.
type NS struct {
	mu     sync.Mutex
	f      *os.File // /proc/thread-self/ns/net of the thread that made it
	nAlias int
}

// New creates a namespace whose loopback interface is up (127.0.0.1/8).
func New() (*NS, error) {
	type result struct {
		f   *os.File
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread now lives in another namespace
		// and must die with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("new network namespace: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			res <- result{err: fmt.Errorf("open network namespace: %w", err)}
			return
		}
		if err := setFlags("lo", unix.IFF_UP|unix.IFF_LOOPBACK|unix.IFF_RUNNING); err != nil {
			f.Close()
			res <- result{err: err}
			return
		}
		res <- result{f: f}
	}()
	r := <-res
	if r.err != nil {
		return nil, r.err
	}
	return &NS{f: r.f}, nil
}

// Probe reports whether New works here (root, Linux, namespaces allowed).
func Probe() error {
	ns, err := New()
	if err != nil {
		return err
	}
	return ns.Close()
}

// Close releases the handle; the namespace ends when nothing (no process,
// no socket) is left in it.
func (ns *NS) Close() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.f == nil {
		return nil
	}
	err := ns.f.Close()
	ns.f = nil
	return err
}

// Path names the namespace for tools such as nsenter --net=PATH while it
// is open.
func (ns *NS) Path() string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.f == nil {
		return ""
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.f.Fd())
}

// Do runs fn on an OS thread that has entered the namespace; child
// processes fn starts there (exec.Cmd.Start) are born in it, and sockets
// it opens belong to it. The thread is discarded afterwards.
func (ns *NS) Do(fn func() error) error {
	ns.mu.Lock()
	f := ns.f
	ns.mu.Unlock()
	if f == nil {
		return errors.New("network namespace closed")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread, as in New.
		if err := ns.Enter(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Enter moves the calling OS thread into the namespace, for a hook that
// runs on a thread about to start a process and then be discarded (as
// sshd.Config.Enter does); processes started there are born in it.
func (ns *NS) Enter() error {
	ns.mu.Lock()
	f := ns.f
	ns.mu.Unlock()
	if f == nil {
		return errors.New("network namespace closed")
	}
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	return nil
}

// AddAddr adds ip/32 to the namespace's loopback interface, so that
// connections to it stay inside (and reach a listener from Listen).
func (ns *NS) AddAddr(ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("add address %s: only IPv4 addresses are routed", ip)
	}
	ns.mu.Lock()
	ns.nAlias++
	label := fmt.Sprintf("lo:%d", ns.nAlias)
	ns.mu.Unlock()
	return ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("add address %s: %w", ip, err)
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(label)
		if err != nil {
			return fmt.Errorf("add address %s: %w", ip, err)
		}
		if err := ifr.SetInet4Addr(ip.AsSlice()); err != nil {
			return fmt.Errorf("add address %s: %w", ip, err)
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", ip, label, err)
		}
		mask, _ := unix.NewIfreq(label)
		if err := mask.SetInet4Addr([]byte{255, 255, 255, 255}); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, mask); err != nil {
			return fmt.Errorf("set netmask of %s on %s: %w", ip, label, err)
		}
		return nil
	})
}

// Listen opens a TCP listener inside the namespace; the sandbox accepts
// on it from its own process.
func (ns *NS) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in the instance's network namespace: %w", addr, err)
	}
	return ln, nil
}

// setFlags sets the flags of interface name in the calling thread's
// network namespace.
func setFlags(name string, flags uint16) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}
