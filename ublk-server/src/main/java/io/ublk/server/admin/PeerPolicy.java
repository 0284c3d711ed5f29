package io.ublk.server.admin;

import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;

/**
 * Who may send admin requests: root, the daemon's own user, or members (by primary group) of one
 * configured group. Checked per connection from the peer's credentials as the kernel reports them
 * (SO_PEERCRED), never from anything the peer sends.
 */
public record PeerPolicy(String group) {
    private static final String SELF = System.getProperty("user.name");

    /** Root and the daemon's user only. */
    public static final PeerPolicy ROOT_ONLY = new PeerPolicy(null);

    /** Null when the peer may ask; else why not. */
    public String refusal(UserPrincipal user, GroupPrincipal primaryGroup) {
        String u = user == null ? null : user.getName();
        if ("root".equals(u) || (u != null && u.equals(SELF))) {
            return null;
        }
        if (group != null && primaryGroup != null && group.equals(primaryGroup.getName())) {
            return null;
        }
        return "user " + u + " may not use this socket (root" + (group == null ? "" : " or group " + group) + " only)";
    }
}
