package io.ublk.headers;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ErrnoTest {
    @Test
    void namesPositiveAndNegatedValues() {
        assertThat(Errno.name(Errno.EINVAL)).isEqualTo("EINVAL");
        assertThat(Errno.name(-Errno.ENODEV)).isEqualTo("ENODEV");
        assertThat(Errno.name(-Errno.EAGAIN)).isEqualTo("EAGAIN");
        assertThat(Errno.name(Errno.ENOTSUP)).as("same value as EOPNOTSUPP").isEqualTo("EOPNOTSUPP");
        assertThat(Errno.name(Errno.ECANCELED)).isEqualTo("ECANCELED");
    }

    @Test
    void unknownValuesGetANumber() {
        assertThat(Errno.name(123)).isEqualTo("errno 123");
        assertThat(Errno.name(-123)).isEqualTo("errno 123");
        assertThat(Errno.name(0)).isEqualTo("errno 0");
    }

    @Test
    void everyConstantHasItsOwnName() throws Exception {
        for (var field : Errno.class.getFields()) {
            if (field.getType() == int.class) {
                int value = field.getInt(null);
                String expected = field.getName().equals("ENOTSUP") ? "EOPNOTSUPP" : field.getName();
                assertThat(Errno.name(value)).as(field.getName()).isEqualTo(expected);
            }
        }
    }
}
