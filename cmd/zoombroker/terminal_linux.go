package main

import "golang.org/x/sys/unix"

// ioctl requests that get and set the terminal attributes.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
