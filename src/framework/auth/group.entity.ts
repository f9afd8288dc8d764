import { IsString, MinLength } from 'class-validator';
import { Column, Entity, JoinTable, ManyToMany, PrimaryGeneratedColumn } from 'typeorm';
import { Permission } from 'src/framework/auth/permission.entity';

/** A named set of permissions granted to its members (Django's Group). */
@Entity('auth_group')
export class Group {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 150, unique: true })
  @IsString()
  @MinLength(1)
  name!: string;

  @ManyToMany(() => Permission)
  @JoinTable({
    name: 'group_permissions',
    joinColumn: { name: 'groupId' },
    inverseJoinColumn: { name: 'permissionId' },
  })
  permissions!: Permission[];
}
