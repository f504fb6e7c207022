// Package packaging holds the nfpm configuration and maintainer scripts of
// the jitssh-host deb and rpm (`make packages`); its tests build the
// packages and check their metadata and the version scheme. No code.
package packaging
