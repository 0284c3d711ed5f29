package io.ublk.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.Test;

class PeerPolicyTest {
    record User(String getName) implements UserPrincipal {}

    record Group(String getName) implements GroupPrincipal {}

    @Test
    void rootAlwaysOthersOnlyThroughTheConfiguredGroup() {
        assertThat(PeerPolicy.ROOT_ONLY.refusal(new User("root"), new Group("root"))).isNull();
        assertThat(PeerPolicy.ROOT_ONLY.refusal(new User("nobody"), new Group("nogroup")))
                .contains("user nobody may not use this socket (root only)");
        PeerPolicy ops = new PeerPolicy("ublk-admin");
        assertThat(ops.refusal(new User("alice"), new Group("ublk-admin"))).isNull();
        assertThat(ops.refusal(new User("bob"), new Group("users"))).contains("root or group ublk-admin");
    }
}
