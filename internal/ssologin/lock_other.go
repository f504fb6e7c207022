//go:build !unix

package ssologin

// Lock is a no-op where flock does not exist.
func (c Cache) Lock(*Session) (func(), error) { return func() {}, nil }
