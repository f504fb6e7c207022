package authkeys

import (
	"crypto/rsa"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultSignerCacheTTL is the longest a verified signer chain is trusted
// without checking it again, when NewSignerCache is given zero.
const DefaultSignerCacheTTL = 5 * time.Minute

// maxCachedSigners bounds a SignerCache; AWS has one signer per region.
const maxCachedSigners = 16

// SignerCache remembers signer chains that passed every check (chain to
// the roots, OCSP), keyed by the SHA-256 of the chain's PEM bytes as IMDS
// served them. An entry lives until the earliest of: its TTL, the earliest
// OCSP nextUpdate and the earliest certificate expiry of the chain. It is
// safe for concurrent use; a nil *SignerCache caches nothing.
type SignerCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[[32]byte]cachedSigner
}

type cachedSigner struct {
	key   *rsa.PublicKey
	until time.Time
}

// NewSignerCache returns an empty cache whose entries live at most ttl
// (zero means DefaultSignerCacheTTL).
func NewSignerCache(ttl time.Duration) *SignerCache {
	if ttl <= 0 {
		ttl = DefaultSignerCacheTTL
	}
	return &SignerCache{ttl: ttl, m: map[[32]byte]cachedSigner{}}
}

func (c *SignerCache) get(chainPEM []byte, now time.Time) (*rsa.PublicKey, bool) {
	if c == nil {
		return nil, false
	}
	k := sha256.Sum256(chainPEM)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(c.m, k)
		return nil, false
	}
	return e.key, true
}

func (c *SignerCache) put(chainPEM []byte, key *rsa.PublicKey, until, now time.Time) {
	if c == nil {
		return
	}
	if lim := now.Add(c.ttl); until.After(lim) {
		until = lim
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedSigners {
		clear(c.m)
	}
	c.m[sha256.Sum256(chainPEM)] = cachedSigner{key: key, until: until}
}

// Len returns the number of live entries (for tests and metrics).
func (c *SignerCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
